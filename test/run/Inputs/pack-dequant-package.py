#!/usr/bin/env python3
"""Writes a package directory whose weights are chosen by hand, for the tests
of `zamba2-pack --dequantize` (test/run/pack-dequant.test):

usage: pack-dequant-package.py DIR [--break WHAT]

Weights (offsets 64-byte aligned):
  f    f32  [2]     1.5, -0.25
  h    bf16 [4]     bits of 1, -2, 0.5, 3.140625 (0x4049)
  g    f16  [2]     bits of 1, -2 (0x3C00, 0xC000)
  W.packed / W.scales: W [2, 8] quantized int4, group 8, symmetric, f16
       scales. Row 0: q = 0 2 2 -2 7 -7 4 0 (bytes 20 E2 97 04), s = 1;
       row 1: q = 7 -7 0 0 0 0 0 2 (bytes 97 00 00 20), s = 0.5.
--break bits | no-scales | short-weights: one defect for the error tests.
"""
import json
import os
import struct
import sys

d = sys.argv[1]
brk = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--break" else ""
os.makedirs(d, exist_ok=True)
blobs = [
    ("f", "f32", [2], struct.pack("<2f", 1.5, -0.25), None),
    ("h", "bf16", [4], struct.pack("<4H", 0x3F80, 0xC000, 0x3F00, 0x4049), None),
    ("g", "f16", [2], struct.pack("<2H", 0x3C00, 0xC000), None),
    ("W.packed", "i8", [2, 4], bytes([0x20, 0xE2, 0x97, 0x04, 0x97, 0, 0, 0x20]),
     "packed"),
    ("W.scales", "f16", [2, 1], struct.pack("<2H", 0x3C00, 0x3800), "scales"),
]
if brk == "no-scales":
    blobs.pop()
tensors, data = [], b""
for name, dtype, shape, raw, part in blobs:
    data += bytes(-len(data) % 64)
    t = {"name": name, "dtype": dtype, "shape": shape, "offset": len(data),
         "bytes": len(raw)}
    if part:
        t["quant"] = {"source": "W", "part": part,
                      "bits": 3 if brk == "bits" else 4, "group_size": 8,
                      "scheme": "symmetric", "scale_dtype": "f16"}
    tensors.append(t)
    data += raw
manifest = {
    "format": "zamba2c-package", "format_version": 1, "producer": "test",
    "target": {"kind": "cpu", "triple": "x86_64-pc-linux-gnu", "cpu": "generic",
               "features": []},
    "library": "model.so", "abi_version": 1,
    "entry_points": {"prefill": "zamba2_prefill", "decode": "zamba2_decode"},
    "model": {"vocab_size": 16, "hidden_size": 8, "num_layers": 2,
              "hybrid_layer_ids": [1], "bos_token_id": 1, "eos_token_id": 2,
              "pad_token_id": 0},
    "config": {},
    "weights": {"file": "weights.bin", "bytes": len(data), "alignment": 64,
                "tensors": tensors},
    "state": [],
}
with open(os.path.join(d, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
with open(os.path.join(d, "weights.bin"), "wb") as f:
    f.write(data[:-4] if brk == "short-weights" else data)
