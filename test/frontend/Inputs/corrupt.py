#!/usr/bin/env python3
"""Builds bad checkpoints for the zamba2-inspect tests (standard library only).

  corrupt.py copy SRC DST                       copy a checkpoint dir (DST replaced)
  corrupt.py rm PATH                            delete a file
  corrupt.py truncate PATH N                    keep the first N bytes (N < 0: drop -N)
  corrupt.py st-length PATH N                   set the 8-byte header length to N
                                                ("end": the file size)
  corrupt.py st-set PATH TENSOR FIELD JSON      set header[TENSOR][FIELD] = JSON
  corrupt.py st-copy-offsets PATH FROM TO       give TO the data_offsets of FROM
  corrupt.py st-del PATH TENSOR                 drop a header entry (data kept)
  corrupt.py st-raw-header PATH SUFFIX          replace the header's closing '}'
                                                with SUFFIX (malformed JSON)
  corrupt.py cfg-set PATH FIELD JSON            config[FIELD] = JSON
  corrupt.py cfg-del PATH FIELD                 del config[FIELD]
  corrupt.py cfg-set-item PATH FIELD I JSON     config[FIELD][I] = JSON
"""
import json
import os
import shutil
import struct
import sys


def read_st(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_st(path, header_text, data):
    text = header_text.encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def edit_st(path, fn):
    header, data = read_st(path)
    fn(header)
    write_st(path, json.dumps(header), data)


def edit_json(path, fn):
    with open(path) as f:
        cfg = json.load(f)
    fn(cfg)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)


def main(argv):
    op, args = argv[1], argv[2:]
    if op == "copy":
        shutil.rmtree(args[1], ignore_errors=True)
        shutil.copytree(args[0], args[1])
        for extra in ("reference.json", "reference.safetensors"):
            p = os.path.join(args[1], extra)
            if os.path.exists(p):
                os.remove(p)
    elif op == "rm":
        os.remove(args[0])
    elif op == "truncate":
        n = int(args[1])
        size = os.path.getsize(args[0])
        with open(args[0], "r+b") as f:
            f.truncate(n if n >= 0 else size + n)
    elif op == "st-length":
        n = os.path.getsize(args[0]) if args[1] == "end" else int(args[1])
        with open(args[0], "r+b") as f:
            f.write(struct.pack("<Q", n))
    elif op == "st-set":
        edit_st(args[0], lambda h: h[args[1]].__setitem__(args[2], json.loads(args[3])))
    elif op == "st-copy-offsets":
        edit_st(args[0], lambda h: h[args[2]].__setitem__(
            "data_offsets", list(h[args[1]]["data_offsets"])))
    elif op == "st-del":
        edit_st(args[0], lambda h: h.pop(args[1]))
    elif op == "st-raw-header":
        header, data = read_st(args[0])
        text = json.dumps(header)
        write_st(args[0], text[:-1] + args[1], data)
    elif op == "cfg-set":
        edit_json(args[0], lambda c: c.__setitem__(args[1], json.loads(args[2])))
    elif op == "cfg-del":
        edit_json(args[0], lambda c: c.pop(args[1]))
    elif op == "cfg-set-item":
        edit_json(args[0], lambda c: c[args[1]].__setitem__(int(args[2]), json.loads(args[3])))
    else:
        sys.exit("corrupt.py: unknown operation " + op)


if __name__ == "__main__":
    main(sys.argv)
