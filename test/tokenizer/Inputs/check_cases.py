"""Runs zamba2-tokenize on every case of a fixture's cases.json.

usage: check_cases.py TOKENIZER_JSON CASES_JSON   (standard library only)

Compares, byte for byte, the CLI's output with the golden values the Hugging
Face tokenizers library produced: --encode (ids, ids_with_bos, tokens) and
--decode (plain, --keep-special, --stream) for cases and decode_cases.
"""
import json
import subprocess
import sys

tok, cases_path = sys.argv[1:3]
with open(cases_path, encoding="utf-8") as f:
    cases = json.load(f)
failures = []
checks = 0


def run(*args):
    p = subprocess.run(["zamba2-tokenize", tok, *args], capture_output=True)
    if p.returncode != 0:
        failures.append("%r: exit %d: %s" % (args, p.returncode, p.stderr))
        return None
    return p.stdout.decode("utf-8")


def expect(args, want):
    global checks
    checks += 1
    got = run(*args)
    if got is not None and got != want:
        failures.append("%r:\n  got  %r\n  want %r" % (args, got, want))


def ids_arg(ids):
    return ",".join(str(i) for i in ids)


for c in cases["cases"]:
    text = c["text"]
    expect(["--encode", text], ids_arg(c["ids"]) + "\n")
    expect(["--bos", "--encode", text], ids_arg(c["ids_with_bos"]) + "\n")
    got = run("--encode", text, "--tokens")
    checks += 1
    if got is not None and json.loads(got) != c["tokens"]:
        failures.append("tokens of %r: %r" % (text, got))
    expect(["--decode", ids_arg(c["ids"])], c["decoded"] + "\n")
    expect(["--decode", ids_arg(c["ids_with_bos"])],
           c["decoded_with_bos_skip_special"] + "\n")
    expect(["--decode", ids_arg(c["ids_with_bos"]), "--stream"],
           c["decoded_with_bos_skip_special"] + "\n")
for c in cases["decode_cases"]:
    ids = ids_arg(c["ids"])
    expect(["--decode", ids], c["decoded_skip_special"] + "\n")
    expect(["--decode", ids, "--keep-special"], c["decoded"] + "\n")
    expect(["--decode", ids, "--keep-special", "--stream"], c["decoded"] + "\n")

for f in failures:
    print("MISMATCH " + f)
print("checked %d outputs, %d mismatches" % (checks, len(failures)))
sys.exit(1 if failures else 0)
