#!/usr/bin/env python3
"""Checks zamba2-run's text modes against its id mode and zamba2-tokenize.

usage: text_check.py prompt PKG TEXT [-- RUN_ARGS...]
       text_check.py chat PKG LINE... [-- RUN_ARGS...]

prompt: the text that `zamba2-run PKG --prompt TEXT RUN_ARGS` streams must
  equal `zamba2-tokenize TOK --decode IDS` (then a newline), where IDS are the
  ids that `zamba2-run PKG --prompt-ids P RUN_ARGS` prints for
  P = `zamba2-tokenize TOK --bos --encode TEXT`.
chat: the LINEs, one turn each, go to `zamba2-run PKG --chat RUN_ARGS`, each
  only once the previous reply has arrived (the replies are flushed). Turn
  k's reply must be the decoded ids that --prompt-ids gives for the whole
  history: prompt 1 (with BOS), reply 1 (its last token included), prompt 2
  (no BOS), ..., prompt k; so the chat's session holds the history exactly.
  With --stats, the chat must prefill each prompt's tokens once, plus the
  previous reply's last token: nothing is prefilled twice.

With --no-bos in RUN_ARGS, prompts are encoded without BOS (and --prompt-ids
runs without that flag). TOK is PKG's tokenizer.json as its manifest names
it. RUN_ARGS must make the runs deterministic (greedy, or a seed for
--prompt). Ids the tokenizer has no token for (a model vocabulary larger than
the tokenizer's) are dropped before decoding, as the decoders of zamba2-run
and Hugging Face do. Prints one summary line per check; exits 1 with the
difference on a mismatch.
"""
import json
import os
import re
import select
import subprocess
import sys


def run(args, stdin=None):
    r = subprocess.run(args, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit("text_check.py: %s failed (%d): %s" % (
            " ".join(args), r.returncode, r.stderr.decode(errors="replace")))
    return r.stdout, r.stderr


def ids_of(line):
    line = line.decode().strip()
    return [int(x) for x in line.split(",")] if line else []


class Package:
    def __init__(self, path, run_args):
        self.path = path
        self.run_args = run_args
        self.bos = "--no-bos" not in run_args
        self.ids_args = [a for a in run_args if a != "--no-bos"]
        with open(os.path.join(path, "manifest.json")) as f:
            name = json.load(f)["tokenizer"]
        self.tok = os.path.join(path, name)
        info, _ = run(["zamba2-tokenize", self.tok, "--info"])
        self.tok_vocab = int(re.search(rb"vocab_size: (\d+)", info).group(1))

    def encode(self, text, bos):
        out, _ = run(["zamba2-tokenize", self.tok, "--encode", text] +
                     (["--bos"] if bos else []))
        return ids_of(out)

    def decode(self, ids):
        known = [i for i in ids if i < self.tok_vocab]
        out, _ = run(["zamba2-tokenize", self.tok, "--decode",
                      ",".join(map(str, known))])
        return out[:-1]  # its newline

    def generate(self, prompt_ids):
        out, _ = run(["zamba2-run", self.path, "--prompt-ids",
                      ",".join(map(str, prompt_ids))] + self.ids_args)
        return ids_of(out)


def compare(what, got, expected):
    if got != expected:
        sys.exit("text_check.py: %s differs\n  got:      %r\n  expected: %r"
                 % (what, got, expected))


def check_prompt(pkg, text):
    got, _ = run(["zamba2-run", pkg.path, "--prompt", text] + pkg.run_args)
    ids = pkg.generate(pkg.encode(text, bos=pkg.bos))
    expected = pkg.decode(ids) + b"\n"
    compare("--prompt %r" % text, got, expected)
    print("prompt ok: %d new ids, %d bytes of text" % (len(ids),
                                                       len(expected) - 1))


def read_exactly(stream, n, what):
    """n bytes of `stream`, failing after a minute without one."""
    data = b""
    while len(data) < n:
        ready, _, _ = select.select([stream], [], [], 60)
        if not ready:
            sys.exit("text_check.py: %s: nothing on stdout for 60 s after %r"
                     " (not flushed?)" % (what, data))
        chunk = os.read(stream.fileno(), n - len(data))
        if not chunk:
            sys.exit("text_check.py: %s: stdout ended after %r" % (what, data))
        data += chunk
    return data


def check_chat(pkg, lines):
    history, replies, prefilled = [], [], 0
    for k, line in enumerate(lines):
        prompt = pkg.encode(line, bos=pkg.bos and k == 0)
        prefilled += len(prompt) + (1 if k else 0)
        history += prompt
        reply = pkg.generate(history)
        history += reply
        replies.append(pkg.decode(reply) + b"\n")
    # Interactively: each reply must arrive before the next line is sent.
    chat = subprocess.Popen(["zamba2-run", pkg.path, "--chat", "--stats"] +
                            pkg.run_args, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for k, line in enumerate(lines):
        chat.stdin.write(line.encode() + b"\n")
        chat.stdin.flush()
        what = "--chat reply %d" % (k + 1)
        compare(what, read_exactly(chat.stdout, len(replies[k]), what),
                replies[k])
    rest, err = chat.communicate()
    if chat.returncode != 0 or rest:
        sys.exit("text_check.py: --chat: exit status %d, more output %r, "
                 "stderr %r" % (chat.returncode, rest, err))
    m = re.search(rb"^prefill: (\d+) tokens .* (\d+) calls?\)$", err, re.M)
    if not m:
        sys.exit("text_check.py: no prefill line in --chat --stats: %r" % err)
    compare("--chat prefill tokens and calls",
            (int(m.group(1)), int(m.group(2))), (prefilled, len(lines)))
    print("chat ok: %d turns, %d history tokens, %d prefilled" %
          (len(lines), len(history), prefilled))


def main():
    argv = sys.argv[1:]
    run_args = []
    if "--" in argv:
        run_args = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    if len(argv) < 3 or argv[0] not in ("prompt", "chat"):
        sys.exit(__doc__)
    pkg = Package(argv[1], run_args)
    if argv[0] == "prompt":
        for text in argv[2:]:
            check_prompt(pkg, text)
    else:
        check_chat(pkg, argv[2:])


main()
