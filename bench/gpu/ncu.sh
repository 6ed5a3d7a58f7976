#!/bin/bash
# Nsight Compute's view of a few kernels of a CUDA package's decode step at
# batch 1, on the GPU machine: how busy DRAM, L2 and the SMs were, the
# registers, occupancy, waves and the limits on blocks per SM. Each kernel
# is profiled alone (ncu serialises the launches), so its duration includes
# what the dependent launch hides in a real step; trace.py gives the step's
# view.
#   bench/gpu/ncu.sh OUT PKG KERNEL...
# OUT is an ab.sh directory (its bin/ has the runtime tools); PKG one of its
# packages, packed by `ab.sh run OUT` (or packed here from a synthesized
# 1.2B checkpoint when it has no weights.bin); KERNEL the kernels' names as
# trace.py prints them (the third launch of each is profiled).
set -uo pipefail
out=${1:?usage: ncu.sh OUT PKG KERNEL...} pkg=${2:?PKG}
shift 2
[[ $# -gt 0 ]] || { echo "ncu.sh: name at least one kernel" >&2; exit 1; }
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null)
[[ -n $ncu ]] || { echo "ncu.sh: no ncu on this machine" >&2; exit 1; }
if [[ ! -f $out/$pkg/weights.bin ]]; then
  "$out/bin/zamba2-synth" --preset 1.2b --dtype bf16 -o "$out/ckpt" > /dev/null &&
    "$out/bin/zamba2-pack" "$out/ckpt" "$out/$pkg" > /dev/null ||
    { echo "ncu.sh: packing $pkg failed" >&2; exit 1; }
fi
for kernel in "$@"; do
  echo "== $pkg: $kernel"
  "$ncu" --kernel-name "$kernel" --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section LaunchStats --section Occupancy \
    --section WarpStateStats \
    "$out/bin/zamba2-bench" "$out/$pkg" --prefill 4 --batch 1 --decode 3 \
    --repeat 1 2>&1 |
    grep -E "Duration|Throughput|Registers Per|Occupancy|Block Limit|Waves|Grid Size|Block Size|Warp Cycles Per Issued" ||
    echo "ncu.sh: no launch of $kernel profiled" >&2
done
