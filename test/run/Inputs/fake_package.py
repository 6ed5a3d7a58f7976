#!/usr/bin/env python3
"""Writes a package directory around the fake model library (FakeModel.c).

usage: fake_package.py LIB DIR [options]

The manifest matches what FakeModel.c expects (state conv, ssm, kv); the
options break one part of it for the error tests:
  --vocab N                  model.vocab_size (default 16)
  --eos ID                   model.eos_token_id (default 2)
  --w0 X                     first f32 of weights.bin (default 0.5)
  --format-version N         format_version (default 1)
  --abi-version N            abi_version (default 1)
  --kind K                   target.kind (default cpu)
  --features A,B             target.features (default none)
  --manifest-weights-bytes N weights.bytes in the manifest (default: actual)
  --no-lib / --no-weights / --no-manifest   leave that file out
"""
import argparse
import json
import os
import shutil
import struct

p = argparse.ArgumentParser()
p.add_argument("lib")
p.add_argument("dir")
p.add_argument("--vocab", type=int, default=16)
p.add_argument("--eos", type=int, default=2)
p.add_argument("--w0", type=float, default=0.5)
p.add_argument("--format-version", type=int, default=1)
p.add_argument("--abi-version", type=int, default=1)
p.add_argument("--kind", default="cpu")
p.add_argument("--features", default="")
p.add_argument("--manifest-weights-bytes", type=int, default=None)
p.add_argument("--no-lib", action="store_true")
p.add_argument("--no-weights", action="store_true")
p.add_argument("--no-manifest", action="store_true")
a = p.parse_args()

WEIGHTS = 128
os.makedirs(a.dir, exist_ok=True)
manifest = {
    "format": "zamba2c-package",
    "format_version": a.format_version,
    "producer": "fake_package.py",
    "target": {"kind": a.kind, "triple": "x86_64-pc-linux-gnu", "cpu": "generic",
               "features": [f for f in a.features.split(",") if f]},
    "library": "model.so",
    "abi_version": a.abi_version,
    "entry_points": {"prefill": "zamba2_prefill", "decode": "zamba2_decode"},
    "model": {"vocab_size": a.vocab, "hidden_size": 8, "num_layers": 2,
              "hybrid_layer_ids": [1], "bos_token_id": 1,
              "eos_token_id": a.eos, "pad_token_id": 0},
    "config": {},
    "weights": {"file": "weights.bin",
                "bytes": WEIGHTS if a.manifest_weights_bytes is None
                else a.manifest_weights_bytes,
                "alignment": 64,
                "tensors": [{"name": "w", "dtype": "f32", "shape": [WEIGHTS // 4],
                             "offset": 0, "bytes": WEIGHTS}]},
    "state": [{"name": "conv", "dtype": "f32", "shape": ["batch", 4, 3]},
              {"name": "ssm", "dtype": "f32", "shape": ["batch", 2]},
              {"name": "kv", "dtype": "f32", "shape": ["batch", 2, "seq", 3]}],
}
if not a.no_manifest:
    with open(os.path.join(a.dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
if not a.no_weights:
    with open(os.path.join(a.dir, "weights.bin"), "wb") as f:
        f.write(struct.pack("<f", a.w0) + bytes(WEIGHTS - 4))
if not a.no_lib:
    shutil.copyfile(a.lib, os.path.join(a.dir, "model.so"))
