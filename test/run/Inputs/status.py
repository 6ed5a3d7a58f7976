#!/usr/bin/env python3
"""status.py CMD [ARGS...]: runs CMD (stdout and stderr passed through),
then prints "exit status N" on stdout and exits 0, so that a test can check
the exact exit status (lit's internal shell has no $?)."""
import subprocess
import sys

sys.stdout.flush()
code = subprocess.call(sys.argv[1:])
print("exit status %d" % code)
