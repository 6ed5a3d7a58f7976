#!/usr/bin/env python3
"""Scores token ids through the runtime's shared library (the C API of
runtime/engine/zamba2_runtime.h over ctypes), as `zamba2-run --score IN
--decode-from P --out OUT` does: prefill of the first P tokens of every row,
then one decode step per token; writes the logits [B, T, vocab] as f32.

  capi_score.py LIB PKG IN OUT P [alternate]

With `alternate`, the prefill and every other decode step are given no
logits buffer (their logits are read from zamba2_session_logits), the other
steps a buffer of their own, after each of which the session's buffer must
still hold the logits of the last call given none (the C API's contract);
a step that changed it fails the script.
"""
import ctypes
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402


class PackageInfo(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int64) for name in (
        "vocab_size", "hidden_size", "num_layers", "bos_token_id",
        "eos_token_id", "pad_token_id", "num_state_tensors",
        "abi_version")] + [("weights_bytes", ctypes.c_uint64)]


def read_ids(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    t = json.loads(data[8:8 + n])["input_ids"]
    lo, hi = t["data_offsets"]
    return t["shape"], st.decode(t["dtype"], data[8 + n + lo:8 + n + hi])


def main():
    lib_path, pkg_path, in_path, out_path, first = sys.argv[1:6]
    first = int(first)
    alternate = sys.argv[6:] == ["alternate"]
    lib = ctypes.CDLL(lib_path, mode=ctypes.RTLD_GLOBAL)
    vp, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.zamba2_last_error.restype = ctypes.c_char_p
    lib.zamba2_package_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
    lib.zamba2_package_get_info.argtypes = [vp, ctypes.POINTER(PackageInfo)]
    lib.zamba2_session_create.argtypes = [vp, i64, i64, ctypes.POINTER(vp)]
    lib.zamba2_session_prefill.argtypes = [
        vp, i64, i64, ctypes.POINTER(i64), ctypes.POINTER(ctypes.c_float)]
    lib.zamba2_session_decode.argtypes = [
        vp, i64, ctypes.POINTER(i64), ctypes.POINTER(ctypes.c_float)]
    lib.zamba2_session_logits.argtypes = [vp]
    lib.zamba2_session_logits.restype = ctypes.POINTER(ctypes.c_float)

    def session_logits(count):
        return lib.zamba2_session_logits(sess)[:count]

    def check(status, what):
        if status != 0:
            sys.exit(f"capi_score: {what}: "
                     f"{lib.zamba2_last_error().decode(errors='replace')}")

    pkg, sess, info = vp(), vp(), PackageInfo()
    check(lib.zamba2_package_open(pkg_path.encode(), ctypes.byref(pkg)),
          "package_open")
    check(lib.zamba2_package_get_info(pkg, ctypes.byref(info)),
          "package_get_info")
    (b, t), ids = read_ids(in_path)
    vocab = info.vocab_size
    check(lib.zamba2_session_create(pkg, b, t, ctypes.byref(sess)),
          "session_create")
    # logits[row][token] = vocab floats
    logits = [[None] * t for _ in range(b)]
    prefill_ids = (i64 * (b * first))(
        *[ids[r * t + j] for r in range(b) for j in range(first)])
    out = (ctypes.c_float * (b * first * vocab))()
    check(lib.zamba2_session_prefill(sess, b, first, prefill_ids,
                                     None if alternate else out),
          "session_prefill")
    if alternate:
        out = session_logits(b * first * vocab)
    last_own = out[:]  # the session's buffer, after a call given none
    for r in range(b):
        for j in range(first):
            at = (r * first + j) * vocab
            logits[r][j] = out[at:at + vocab]
    step = (ctypes.c_float * (b * vocab))()
    for j in range(first, t):
        token = (i64 * b)(*[ids[r * t + j] for r in range(b)])
        to_session = alternate and (j - first) % 2 == 0  # given no buffer
        check(lib.zamba2_session_decode(
            sess, b, token, None if to_session else step), "session_decode")
        values = session_logits(b * vocab) if to_session else step[:]
        if to_session:
            last_own = values
        elif alternate and session_logits(len(last_own)) != last_own:
            sys.exit(f"capi_score: decode step {j} given a buffer changed "
                     "the session's logits")
        for r in range(b):
            logits[r][j] = values[r * vocab:(r + 1) * vocab]
    flat = [v for row in logits for tok in row for v in tok]
    st.save(out_path, [("logits", "F32", [b, t, vocab],
                        struct.pack("<%df" % len(flat), *flat))])


if __name__ == "__main__":
    main()
