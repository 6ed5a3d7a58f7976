"""Writes a broken copy of a tokenizer.json for the error tests.

usage: corrupt.py SRC DST KIND   (standard library only)
"""
import json
import sys

src, dst, kind = sys.argv[1:4]
with open(src, encoding="utf-8") as f:
    tok = json.load(f)
model = tok["model"]
raw = None  # bytes written as-is instead of the JSON document

if kind == "model-type":
    model["type"] = "WordPiece"
elif kind == "no-vocab":
    del model["vocab"]
elif kind == "vocab-array":
    model["vocab"] = ["<unk>", "<s>"]
elif kind == "vocab-id-string":
    model["vocab"]["zz"] = "7"
elif kind == "merge-unknown":
    model["merges"][3] = ["xy", "z"]
elif kind == "merge-result-unknown":
    model["merges"][2] = ["a", "<0x41>"]
elif kind == "merge-no-space":
    model["merges"][0] = "ab"
elif kind == "merges-object":
    model["merges"] = {}
elif kind == "fuse-unk-string":
    model["fuse_unk"] = "yes"
elif kind == "decoder-type":
    tok["decoder"]["decoders"][2]["type"] = "WordPiece"
elif kind == "added-no-id":
    del tok["added_tokens"][1]["id"]
elif kind == "legacy-merges":
    # Not an error: the older "a b" string form of merges.
    model["merges"] = [a + " " + b for a, b in model["merges"]]
elif kind == "invalid-utf8":
    text = json.dumps(tok, ensure_ascii=False)
    # A vocabulary key with a lone continuation byte.
    raw = text.replace('"<unk>": 0', '"<unk\x80>": 0', 1).encode(
        "utf-8").replace(b"\xc2\x80", b"\x80", 1)
elif kind == "truncated":
    raw = json.dumps(tok).encode("utf-8")[:100]
else:
    sys.exit("unknown kind " + kind)

with open(dst, "wb") as f:
    f.write(raw if raw is not None else json.dumps(tok).encode("utf-8"))
