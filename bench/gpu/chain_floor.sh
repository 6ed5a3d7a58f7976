#!/bin/bash
# Builds bench/gpu/chain_floor.cu (the floor of one kernel in a chain of
# dependent kernels, by grid shape) with nvcc into OUT/chain_floor, for a
# GPU machine that has a driver but no CUDA compiler:
#   bench/gpu/chain_floor.sh OUT      (where nvcc is: on PATH, or CUDA_HOME/bin)
#   OUT/chain_floor [--gbps 3350]     (on the GPU machine)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: chain_floor.sh OUT}
nvcc=$(command -v nvcc || echo "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc")
[[ -x $nvcc ]] || { echo "chain_floor: no nvcc (put it on PATH or set CUDA_HOME)" >&2; exit 1; }
mkdir -p "$out"
"$nvcc" -O3 -arch=sm_90 -o "$out/chain_floor" "$here/chain_floor.cu"
echo "built $out/chain_floor"
