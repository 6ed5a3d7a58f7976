#!/usr/bin/env bash
# The main job: set up, then import a Zamba2 checkpoint (default: the tiny
# model shipped in the repo) and print it as zamba2 dialect IR through
# zamba2-opt.
#
#   scripts/run.sh [CHECKPOINT_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ZAMBA2_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh"

model=${1:-$root/test/fixtures/tiny-lora-rope}
# Import (all checks of the checkpoint run here), then list what a package of
# it would store: each weight once, with the functions reading it.
"$build/bin/zamba2-compile" "$model" --emit=zamba2 -o "$build/model.zamba2.mlir"
"$build/bin/zamba2-opt" "$build/model.zamba2.mlir" --zamba2-weight-table=sort-by-size -o /dev/null
echo "run: the imported module is in $build/model.zamba2.mlir" >&2
