#!/usr/bin/env bash
# Sets up (scripts/setup.sh), builds, and runs every test: the lit/FileCheck
# suite, then the gtest units through ctest. Exits non-zero if any test fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ZAMBA2_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh"

echo "== lit suite" >&2
/usr/lib/llvm-22/bin/lit -sv "$build/test"

echo "== unit tests" >&2
ctest --test-dir "$build" --output-on-failure -E '^lit-suite$' -j 2
