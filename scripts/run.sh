#!/usr/bin/env bash
# The main job: set up, compile a Zamba2 checkpoint into a CPU package
# (default: the tiny model shipped in the repo) and generate from it.
#
#   scripts/run.sh [CHECKPOINT_DIR] [zamba2-run options...]
#
# The package goes to build/packages/<checkpoint name>. The default prompt is
# token ids 1,2,3,4 (greedy, 16 new tokens, with tokens/s on stderr); options
# after the checkpoint are passed to zamba2-run (see zamba2-run --help).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ZAMBA2_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh"

model=${1:-$root/test/fixtures/tiny-lora-rope}
shift || true
model=${model%/}
pkg=$build/packages/$(basename "$model")
mkdir -p "$build/packages"
"$build/bin/zamba2-compile" "$model" -o "$pkg"
if [[ $# -eq 0 ]]; then
  set -- --prompt-ids 1,2,3,4 --max-new-tokens 16 --stats
fi
echo "run: generating with $pkg" >&2
"$build/bin/zamba2-run" "$pkg" "$@"
