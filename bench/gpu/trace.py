#!/usr/bin/env python3
"""Where a CUDA package's decode step spends its time, kernel by kernel, as
the step runs: replayed from its CUDA graph, each kernel launched while the
one before it runs (programmatic dependent launch). The kernels' start and
end times come from CUPTI, through PyTorch's profiler, in this process: the
runtime is loaded from libzamba2_runtime.so (RTLD_GLOBAL, as a package's
model.so resolves the mgpu* functions there) and shares PyTorch's context.

A kernel's cost in the chain is its end minus the end of the kernel before
it: what the step would lose without it, if the next kernel started as
early. The sum over a step is the step's span (first start to last end).
Per kernel name (numbered copies together), it prints the launches per
step, the mean cost, the share of the step, the mean duration (start to
end, including the time spent before the dependent-launch wait) and how
long before the previous kernel's end it started; then the step's costliest
launches in order; and what a call costs outside its kernels (the host's
time per call, the GPU's idle time between steps, the copies).

usage: trace.py PKG --lib libzamba2_runtime.so [--batch B] [--steps N]
       [--list FIRST:END]
"""
import argparse
import ctypes
import json
import os
import re
import statistics
import sys
import tempfile
import time


class Runtime:
    """The runtime's C API (runtime/engine/zamba2_runtime.h) over ctypes."""

    def __init__(self, path):
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        vp, i64 = ctypes.c_void_p, ctypes.c_int64
        pvp = ctypes.POINTER(vp)
        pi64 = ctypes.POINTER(i64)
        lib.zamba2_last_error.restype = ctypes.c_char_p
        lib.zamba2_package_open.argtypes = [ctypes.c_char_p, pvp]
        lib.zamba2_session_create.argtypes = [vp, i64, i64, pvp]
        lib.zamba2_session_prefill.argtypes = [vp, i64, i64, pi64, vp]
        lib.zamba2_session_decode.argtypes = [vp, i64, pi64, vp]
        lib.zamba2_session_destroy.argtypes = [vp]
        lib.zamba2_package_close.argtypes = [vp]
        self.lib = lib

    def check(self, status, what):
        if status != 0:
            err = self.lib.zamba2_last_error().decode(errors="replace")
            sys.exit(f"trace: {what}: {err}")


def trace_events(trace_path):
    """(start, end, name) of each kernel and of each copy in a Chrome trace,
    in us, by start: two lists."""
    with open(trace_path) as f:
        events = json.load(f).get("traceEvents", [])

    def of(category):
        return sorted((e["ts"], e["ts"] + e["dur"], e["name"]) for e in events
                      if e.get("cat") == category and "dur" in e)
    return of("kernel"), of("gpu_memcpy")


def between_steps(kernels, copies, steps, calls):
    """What a decode call costs outside its kernels: the host's time per
    call (`calls`, us), the GPU's idle time from one step's last kernel to
    the next one's first, and the copies' durations by kind."""
    n = len(kernels) // steps
    gaps = [kernels[(s + 1) * n][0] - kernels[(s + 1) * n - 1][1]
            for s in range(steps - 1)]
    print(f"a call: {statistics.median(calls):.1f} us on the host (median); "
          f"from a step's last kernel to the next one's first "
          f"{statistics.median(gaps):.1f} us (min {min(gaps):.1f})")
    kinds = {}
    for start, end, name in copies:
        kinds.setdefault(name, []).append(end - start)
    for name, durs in sorted(kinds.items()):
        print(f"  {name}: {len(durs) / steps:g} a step, "
              f"{statistics.median(durs):.2f} us")


def family(name):
    """A kernel's name without the number its copies carry (linear_r1_12)."""
    return re.sub(r"_\d+$", "", name)


def report(kernels, steps, top, listed):
    if not kernels or len(kernels) % steps:
        sys.exit(f"trace: {len(kernels)} kernels recorded over {steps} steps "
                 "(no CUPTI records, or steps of different lengths)")
    n = len(kernels) // steps
    # cost[i]: position i's end minus the end before it, per step.
    cost = [[] for _ in range(n)]
    early = [[] for _ in range(n)]
    spans = []
    for s in range(steps):
        step = kernels[s * n:(s + 1) * n]
        spans.append(step[-1][1] - step[0][0])
        for i, (start, end, _) in enumerate(step):
            before = step[i - 1][1] if i else start
            cost[i].append(end - before)
            early[i].append(before - start)
    names = [k[2] for k in kernels[:n]]
    span = statistics.median(spans)
    print(f"{n} kernels per step; step span median {span / 1000:.3f} ms "
          f"(min {min(spans) / 1000:.3f}, max {max(spans) / 1000:.3f}) "
          f"over {steps} steps")
    med = [statistics.median(c) for c in cost]
    dur = [statistics.median(kernels[s * n + i][1] - kernels[s * n + i][0]
                             for s in range(steps)) for i in range(n)]
    ahead = [statistics.median(e) for e in early]
    fams = {}
    for i, name in enumerate(names):
        fams.setdefault(family(name), []).append(i)
    print(f"{'kernel':44} {'per step':>8} {'cost us':>8} {'share':>6} "
          f"{'dur us':>7} {'started early us':>16}")
    for fam, idx in sorted(fams.items(), key=lambda f: -sum(med[i]
                                                          for i in f[1])):
        total = sum(med[i] for i in idx)
        print(f"{fam[:44]:44} {len(idx):8d} "
              f"{total / len(idx):8.2f} {100 * total / span:5.1f}% "
              f"{statistics.mean(dur[i] for i in idx):7.2f} "
              f"{statistics.mean(ahead[i] for i in idx):16.2f}")
    print(f"costliest {top} launches (position in the step: kernel, cost us):")
    for i in sorted(range(n), key=lambda i: -med[i])[:top]:
        print(f"  {i:4d}: {names[i]} {med[i]:.2f}")
    if listed:
        print(f"launches {listed.start} to {listed.stop - 1} in order "
              "(position: kernel, cost us, dur us, started early us):")
        for i in range(max(listed.start, 0), min(listed.stop, n)):
            print(f"  {i:4d}: {names[i]} {med[i]:.2f} {dur[i]:.2f} "
                  f"{ahead[i]:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package")
    ap.add_argument("--lib", required=True,
                    help="the runtime's shared library, libzamba2_runtime.so")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--prefill", type=int, default=16,
                    help="tokens per row before the decode steps")
    ap.add_argument("--warmup", type=int, default=8,
                    help="decode steps before the traced ones (the first "
                    "captures the CUDA graph)")
    ap.add_argument("--steps", type=int, default=16, help="traced steps")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--list", metavar="FIRST:END", default="",
                    help="also print the launches at positions [FIRST, END) "
                    "of the step, in order")
    args = ap.parse_args()
    listed = None
    if args.list:
        try:
            first, end = (int(v) for v in args.list.split(":"))
        except ValueError:
            sys.exit(f"trace: --list {args.list}: expected FIRST:END")
        listed = range(first, end)
    if args.batch < 1 or args.prefill < 1 or args.steps < 1:
        sys.exit("trace: --batch, --prefill and --steps must be positive")

    import torch
    from torch.profiler import ProfilerActivity, profile
    torch.zeros(1, device="cuda")  # PyTorch's CUDA context: the primary one

    rt = Runtime(args.lib)
    lib = rt.lib
    pkg, sess = ctypes.c_void_p(), ctypes.c_void_p()
    rt.check(lib.zamba2_package_open(args.package.encode(),
                                     ctypes.byref(pkg)),
             f"opening {args.package}")
    max_seq = args.prefill + args.warmup + args.steps + 1
    rt.check(lib.zamba2_session_create(pkg, args.batch, max_seq,
                                       ctypes.byref(sess)),
             "creating a session")
    b = args.batch
    ids = (ctypes.c_int64 * (b * args.prefill))(
        *[(7 * i + 3) % 1000 for i in range(b * args.prefill)])
    rt.check(lib.zamba2_session_prefill(sess, b, args.prefill, ids, None),
             "prefill")
    token = (ctypes.c_int64 * b)(*[(11 * i + 5) % 1000 for i in range(b)])

    def decode():
        rt.check(lib.zamba2_session_decode(sess, b, token, None), "decode")

    for _ in range(args.warmup):
        decode()
    torch.cuda.synchronize()
    calls = []
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(args.steps):
            t = time.perf_counter()
            decode()
            calls.append((time.perf_counter() - t) * 1e6)
        torch.cuda.synchronize()
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        prof.export_chrome_trace(path)
        kernels, copies = trace_events(path)
    finally:
        os.unlink(path)
    lib.zamba2_session_destroy(sess)
    lib.zamba2_package_close(pkg)
    print(f"trace {args.package}, batch {b}")
    report(kernels, args.steps, args.top, listed)
    if args.steps > 1:
        between_steps(kernels, copies, args.steps, calls)


if __name__ == "__main__":
    main()
