#!/usr/bin/env python3
"""Gives a package directory a tokenizer, as zamba2-compile does.

usage: set_tokenizer.py PKG TOKENIZER_JSON [--special ID]
           copy it to PKG/tokenizer.json and set the manifest's "tokenizer";
           --special makes the vocabulary token ID a special added token
           (skipped by decoding, like </s>)
       set_tokenizer.py PKG --field JSON
           set the manifest's "tokenizer" to the JSON value (error tests)
"""
import json
import os
import sys

args = sys.argv[1:]
if len(args) not in (2, 3, 4) or (args[1] == "--field") != (len(args) == 3):
    sys.exit(__doc__)
pkg = args[0]
if args[1] == "--field":
    value = json.loads(args[2])
else:
    with open(args[1]) as f:
        tok = json.load(f)
    if len(args) == 4:
        if args[2] != "--special":
            sys.exit(__doc__)
        sid = int(args[3])
        content = [t for t, i in tok["model"]["vocab"].items() if i == sid][0]
        tok["added_tokens"].append({
            "id": sid, "content": content, "single_word": False,
            "lstrip": False, "rstrip": False, "normalized": False,
            "special": True})
    with open(os.path.join(pkg, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    value = "tokenizer.json"
path = os.path.join(pkg, "manifest.json")
with open(path) as f:
    manifest = json.load(f)
manifest["tokenizer"] = value
with open(path, "w") as f:
    json.dump(manifest, f, indent=1)
