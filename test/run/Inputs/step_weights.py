"""The weight bytes a decode step reads, by hand from a package manifest,
against zamba2-bench's "weights" line.

step_weights.py MANIFEST BENCH_OUTPUT [--twice PREFIX] [--embed-row]

Every tensor once; the tensors under PREFIX that are not adapters a second
time (a shared block that a second hybrid site uses); with --embed-row only
one row of model.embed_tokens.weight (the package has its own lm_head).
Prints "ok N" or exits 1 saying what differs.
"""
import json
import re
import sys

args = sys.argv[1:]
manifest, output = args[0], args[1]
twice = args[args.index("--twice") + 1] if "--twice" in args else None
tensors = json.load(open(manifest))["weights"]["tensors"]
vocab = json.load(open(manifest))["model"]["vocab_size"]
expected = 0
for t in tensors:
    n = t["bytes"]
    if t["name"] == "model.embed_tokens.weight" and "--embed-row" in args:
        n //= vocab
    elif twice and t["name"].startswith(twice) and "_adapter_list." not in t["name"]:
        n *= 2
    expected += n
m = re.search(r"^weights\s+(\d+) bytes read per decode step", open(output).read(), re.M)
if not m:
    sys.exit("step_weights: no weights line in " + output)
if int(m.group(1)) != expected:
    sys.exit(f"step_weights: zamba2-bench says {m.group(1)}, expected {expected}")
print("ok", expected)
