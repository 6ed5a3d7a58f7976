#!/bin/bash
# GPU benchmark of zamba2c against its peers, all in one run on the GPU
# machine (which has python3 with torch and transformers, but no LLVM/MLIR):
#   1. synthesizes a 1.2B-shaped bf16 checkpoint (zamba2-synth) and packs its
#      weights into PKG (a CUDA package compiled elsewhere from a checkpoint
#      of the same shapes: zamba2-compile CKPT --target cuda; only its
#      manifest.json and model.so need to travel) with zamba2-pack;
#   2. measures the bf16 matmul rate (torch) for the prefill floor;
#   3. zamba2-bench PKG: prefill 512 and 2048, decode at batch 1 and 8,
#      floors, GPU memory; then one profiled decode step (per-kernel times);
#   4. transformers' eager Zamba2 on the same weights, and the hand-written
#      CUDA-graph peer (torch_graph_peer.py), and the ratios.
# usage: bench/gpu/run.sh BIN_DIR PKG [WORK_DIR]
set -euo pipefail
bin=$1 pkg=$2 work=${3:-/tmp/zamba2-gpu-bench}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
"$bin/zamba2-synth" --preset 1.2b --dtype bf16 -o "$work/ckpt" > /dev/null 2>&1
"$bin/zamba2-pack" "$work/ckpt" "$pkg" 2>&1 | tail -1
tflops=$(python3 "$here/matmul_rate.py")
echo "torch bf16 matmul: $tflops TFLOP/s"
"$bin/zamba2-bench" "$pkg" --matmul-tflops "$tflops" --decode 32 | tee "$work/bench.txt"
ZAMBA2_CUDA_PROFILE=1 "$bin/zamba2-bench" "$pkg" --prefill 16 --batch 1 --decode 4 --repeat 1 |
  sed -n '/^profile/,$p'
eager=$(python3 "$here/hf_eager.py" "$work/ckpt" 2>/dev/null | tail -1)
echo "$eager"
python3 "$here/torch_graph_peer.py" 2>&1 | grep RESULT | tee "$work/peer.txt"
ours1=$(sed -n 's/^decode *batch 1: \([0-9.]*\) ms.*/\1/p' "$work/bench.txt")
ours8=$(sed -n 's/^decode *batch 8: \([0-9.]*\) ms.*/\1/p' "$work/bench.txt")
e=$(echo "$eager" | sed -n 's/.*decode \([0-9.]*\) ms.*/\1/p')
g1=$(sed -n 's/^RESULT batch 1:.*graph \([0-9.]*\) ms.*/\1/p' "$work/peer.txt")
g8=$(sed -n 's/^RESULT batch 8:.*graph \([0-9.]*\) ms.*/\1/p' "$work/peer.txt")
python3 - "$ours1" "$ours8" "$e" "$g1" "$g8" <<'PY'
import sys
o1, o8, e, g1, g8 = map(float, sys.argv[1:])
print(f"ratio batch 1: transformers eager / zamba2c = {e / o1:.1f}x; "
      f"zamba2c / CUDA-graph peer = {o1 / g1:.2f}x")
print(f"ratio batch 8: zamba2c / CUDA-graph peer = {o8 / g8:.2f}x")
PY
