#!/usr/bin/env python3
"""Minimal safetensors writer and reader for the tests (no numpy).

  st.py write OUT NAME:DTYPE:SHAPE:VALUES [...]
      SHAPE is dims joined by 'x' ("2x3"; "" for a scalar), VALUES comma-
      separated numbers (nan, inf allowed); DTYPE one of I64 I32 F64 F32 F16
      BF16.
  st.py dump FILE NAME [--row I]
      Prints "NAME DTYPE [shape]" and then the values, one row of the last
      dimension per line (%g), or only row I of the flattened leading dims.
  st.py batch-row IN OUT I
      Writes OUT with every tensor of IN cut to batch row I (its first
      dimension becomes 1): a batch-1 input with its rows of the reference.
  st.py count-nan FILE NAME
      Prints "row I: N nan" for each row of the last dimension of NAME.
  st.py poke FILE NAME INDEX VALUE
      Sets element INDEX (of the flattened tensor) of NAME in FILE, in
      place (nan, inf allowed): a checkpoint with one bad weight.
"""
import json
import struct
import sys

FMT = {"I64": "q", "I32": "i", "F64": "d", "F32": "f", "F16": "e"}
SIZE = {"I64": 8, "I32": 4, "F64": 8, "F32": 4, "F16": 2, "BF16": 2}


def encode(dtype, values):
    if dtype == "BF16":
        out = b""
        for v in values:
            bits = struct.unpack("<I", struct.pack("<f", v))[0]
            out += struct.pack("<H", bits >> 16)
        return out
    conv = int if dtype.startswith("I") else float
    return struct.pack("<%d%s" % (len(values), FMT[dtype]), *[conv(v) for v in values])


def decode(dtype, raw):
    n = len(raw) // SIZE[dtype]
    if dtype == "BF16":
        return [struct.unpack("<f", struct.pack("<I", h << 16))[0]
                for h in struct.unpack("<%dH" % n, raw)]
    return list(struct.unpack("<%d%s" % (n, FMT[dtype]), raw))


def save(out, tensors):
    """Writes OUT from (name, dtype, dims, raw bytes) in order."""
    header, blobs, offset = {}, [], 0
    for name, dtype, dims, blob in tensors:
        header[name] = {"dtype": dtype, "shape": dims,
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write(out, specs):
    tensors = []
    for spec in specs:
        name, dtype, shape, values = spec.split(":")
        dims = [int(d) for d in shape.split("x") if d]
        vals = [float(v) if not dtype.startswith("I") else int(v)
                for v in values.split(",") if v]
        tensors.append((name, dtype, dims, encode(dtype, vals)))
    save(out, tensors)


def dump(path, name, row):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    t = header[name]
    lo, hi = t["data_offsets"]
    values = decode(t["dtype"], data[8 + n + lo:8 + n + hi])
    shape = t["shape"]
    print("%s %s %s" % (name, t["dtype"], shape))
    width = shape[-1] if shape else 1
    rows = [values[i:i + width] for i in range(0, len(values), width)]
    if row is not None:
        rows = [rows[row]]
    for r in rows:
        print(" ".join("%g" % v for v in r))


def batch_row(path, out, row):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    tensors = []
    for name, t in sorted(header.items()):
        if name == "__metadata__":
            continue
        lo, hi = t["data_offsets"]
        each = (hi - lo) // t["shape"][0]
        start = 8 + n + lo + row * each
        tensors.append((name, t["dtype"], [1] + t["shape"][1:],
                        data[start:start + each]))
    save(out, tensors)


def count_nan(path, name):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    t = json.loads(data[8:8 + n])[name]
    lo, hi = t["data_offsets"]
    values = decode(t["dtype"], data[8 + n + lo:8 + n + hi])
    width = t["shape"][-1] if t["shape"] else 1
    for i in range(0, len(values), width):
        print("row %d: %d nan" % (i // width, sum(v != v for v in values[i:i + width])))


def poke(path, name, index, value):
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        t = json.loads(f.read(n))[name]
        size = SIZE[t["dtype"]]
        lo, hi = t["data_offsets"]
        if not 0 <= index < (hi - lo) // size:
            sys.exit("st.py poke: %s has no element %d" % (name, index))
        f.seek(8 + n + lo + index * size)
        f.write(encode(t["dtype"], [value]))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "dump":
        row = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--row" else None
        dump(sys.argv[2], sys.argv[3], row)
    elif sys.argv[1] == "batch-row":
        batch_row(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "count-nan":
        count_nan(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "poke":
        poke(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit("usage: st.py write|dump|batch-row|count-nan|poke ...")
