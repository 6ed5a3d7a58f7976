#!/bin/bash
# Builds the CUDA microbenchmarks of bench/gpu with nvcc into OUT, for a GPU
# machine that has a driver but no CUDA compiler:
#   chain_floor.cu: the floor of one kernel in a chain of dependent kernels,
#                   by grid shape;
#   scan_fusion.cu: a chain of synthetic Mamba layers of the 1.2B shape, the
#                   scan a kernel of its own or folded into the in_proj;
#   gemv_chain.cu:  a chain of int4 GEMVs of the 1.2B in_proj's shape, by
#                   the kernel's form (registers, shared memory, tensor cores);
#   layer_chain.cu: a chain of int4 Mamba layers of the 1.2B shape, three
#                   kernels a layer or one (grid-wide barriers between its
#                   phases).
#   bench/gpu/chain_floor.sh OUT      (where nvcc is: on PATH, or CUDA_HOME/bin)
#   OUT/chain_floor [--gbps 3350]     (on the GPU machine)
#   OUT/scan_fusion                   (on the GPU machine)
#   OUT/gemv_chain [--gbps 3350]      (on the GPU machine)
#   OUT/layer_chain [--gbps 3350]     (on the GPU machine)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: chain_floor.sh OUT}
nvcc=$(command -v nvcc || echo "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc")
[[ -x $nvcc ]] || { echo "chain_floor: no nvcc (put it on PATH or set CUDA_HOME)" >&2; exit 1; }
mkdir -p "$out"
for tool in chain_floor scan_fusion gemv_chain layer_chain; do
  "$nvcc" -O3 -arch=sm_90 -o "$out/$tool" "$here/$tool.cu"
  echo "built $out/$tool"
done
