#!/bin/bash
# A/B of CUDA options (the passes on by default turned off one at a time:
# --merge-launches, --fuse-conv, --fuse-norm; those off by default turned
# on: --prefetch-weights, --early-trigger) on the 1.2B shape, bf16 and int4
# (and int8), in one call on the GPU machine. Two steps:
#   bench/gpu/ab.sh prepare BIN_DIR OUT   (here, where LLVM/MLIR is)
#     synthesizes the checkpoint, compiles a CUDA package per (weights,
#     options) without its weights.bin (the compile takes about 2 min each
#     on 2 cores), and copies the runtime tools to OUT/bin.
#   bench/gpu/ab.sh run OUT               (on the GPU machine)
#     synthesizes the same checkpoint, packs each package, then runs
#     zamba2-bench on every package twice, in the order A B C ... A B C ...
#     (so that drift of the machine shows as a difference between rounds),
#     and prints per package decode ms at batch 1 and 8 (the faster round),
#     the ratio to the default package of the same weights (when the
#     default is among them), and int4's and int8's speed-up over bf16 for
#     each set of options; then a kernel-by-kernel
#     profile of one batch-1 step of the first two option sets; then the
#     CUDA-graph PyTorch peer (torch_graph_peer.py) for reference.
# ZAMBA2_AB_VARIANTS (prepare) names the option sets to compile (default
# these five: default, no-merge-launches (--merge-launches=false: the
# kernels zamba2-gpu-merge-launches puts together apart), no-fuse-conv
# (--fuse-conv=false: the convolution kernel zamba2-fuse-conv removes),
# no-fuse-norm (--fuse-norm=false: the norm kernels zamba2-fuse-norm
# removes), prefetch; also early-trigger (--early-trigger), fuse-scan
# (--fuse-scan: the Mamba scan run by the in_proj's one-row kernel),
# no-one-row-early (--one-row-early-trigger=false: the one-row GEMVs signal
# the next kernel after their wait, as the compiler before it did),
# no-register-budget (--gpu-sm-count=0: no zamba2-gpu-register-budget),
# no-int4-mma (--int4-mma=false: the one-row int4 GEMVs without the tensor
# cores), lm-head
# (--quantize-lm-head; int4 and int8 only, so without bf16 in
# ZAMBA2_AB_WEIGHTS),
# no-fuse-lora (--fuse-lora=false), no-fuse-rotary (--fuse-rotary=false),
# unfused (those two and --fuse-residual=false: the passes of the model's
# own ops all off), and any
# of these joined by '+', as early-trigger+prefetch);
# ZAMBA2_AB_BASE_BIN=DIR (prepare) adds the variant "base": the
# default options compiled by DIR's zamba2-compile (an A/B of a compiler
# change, the "vs default" column then being old / new).
# ZAMBA2_AB_WEIGHTS (prepare) picks the weight types (default "bf16 int4";
# also int8; int4's and int8's speed-up over bf16 is printed when bf16 is
# there).
# The run step times the packages OUT holds of its weights x variants (a
# package that is not there is left out of the table), so packages of an
# experimental compiler can be put into OUT by hand, their names added to
# OUT/variants.
# ZAMBA2_AB_PRESET=tiny (both steps) makes a quick run of the plumbing, e.g.
# on the CUDA simulator with ZAMBA2_AB_COMPILE_FLAGS=--gpu-binary=ptx (prepare)
# and ZAMBA2_LIBCUDA=.../libzamba2_cudasim.so ZAMBA2_AB_DECODE=2 (run; the
# decode steps each package is timed over, 64 by default).
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
mode=${1:?usage: ab.sh prepare BIN_DIR OUT | run OUT}
preset=${ZAMBA2_AB_PRESET:-1.2b}
variants=${ZAMBA2_AB_VARIANTS:-default no-merge-launches no-fuse-conv no-fuse-norm prefetch}
weights=${ZAMBA2_AB_WEIGHTS:-bf16 int4}

flags_of() { # VARIANT WEIGHTS: zamba2-compile flags (a variant's options
  # joined by '+', as no-fuse-norm+prefetch)
  local f=(--target cuda) o
  [[ $2 == int4 || $2 == int8 ]] && f+=(--quantize "$2")
  for o in ${1//+/ }; do
    case $o in
      no-fuse-lora) f+=(--fuse-lora=false) ;;
      no-fuse-rotary) f+=(--fuse-rotary=false) ;;
      unfused) f+=(--fuse-lora=false --fuse-rotary=false --fuse-residual=false) ;;
      no-fuse-norm) f+=(--fuse-norm=false) ;;
      prefetch) f+=(--prefetch-weights) ;;
      fuse-scan) f+=(--fuse-scan) ;;
      no-fuse-conv) f+=(--fuse-conv=false) ;;
      no-merge-launches) f+=(--merge-launches=false) ;;
      early-trigger) f+=(--early-trigger) ;;
      no-one-row-early) f+=(--one-row-early-trigger=false) ;;
      no-register-budget) f+=(--gpu-sm-count=0) ;;
      no-int4-mma) f+=(--int4-mma=false) ;;
      lm-head) [[ $2 == int4 || $2 == int8 ]] ||
          { echo "ab: lm-head is for int4 and int8" >&2; exit 1; }
        f+=(--quantize-lm-head) ;;
      default | base) ;;
      *) echo "ab: unknown option set $1" >&2; exit 1 ;;
    esac
  done
  echo "${f[@]}"
}

synthesize() { # BIN CKPT
  "$1/zamba2-synth" --preset "$preset" --dtype bf16 -o "$2" > /dev/null
}

if [[ $mode == prepare ]]; then
  bin=${2:?BIN_DIR} out=${3:?OUT}
  mkdir -p "$out/bin"
  cp "$bin"/zamba2-{synth,pack,bench} "$out/bin/" || exit 1
  synthesize "$bin" "$out/ckpt" || exit 1
  [[ -n ${ZAMBA2_AB_BASE_BIN:-} ]] && variants="base $variants"
  echo "$variants" > "$out/variants"
  echo "$weights" > "$out/weights"
  for w in $weights; do
    for v in $variants; do
      pkg=$out/$w-$v compiler=$bin
      [[ $v == base ]] && compiler=$ZAMBA2_AB_BASE_BIN
      flags=$(flags_of "$v" "$w") || exit 1
      echo "ab: compiling $w $v" >&2
      # shellcheck disable=SC2086
      "$compiler/zamba2-compile" "$out/ckpt" -o "$pkg" $flags \
        ${ZAMBA2_AB_COMPILE_FLAGS:-} \
        --quiet || exit 1
      rm -f "$pkg/weights.bin"
    done
  done
  rm -rf "$out/ckpt"
  echo "prepared $out ($(du -sh "$out" | cut -f1))"
  exit 0
fi

out=${2:?OUT}
bin=$out/bin
variants=$(cat "$out/variants") || exit 1
[[ -f $out/weights ]] && weights=$(cat "$out/weights")
synthesize "$bin" "$out/ckpt" || exit 1
for w in $weights; do
  for v in $variants; do
    [[ -d $out/$w-$v ]] || continue # not prepared: left out of the table
    "$bin/zamba2-pack" "$out/ckpt" "$out/$w-$v" > /dev/null 2>&1 || {
      echo "ab: packing $w-$v failed" >&2
      exit 1
    }
  done
done
for round in 1 2; do
  for w in $weights; do
    for v in $variants; do
      [[ -d $out/$w-$v ]] || continue
      "$bin/zamba2-bench" "$out/$w-$v" --prefill 16 --batch 1,8 \
        --decode "${ZAMBA2_AB_DECODE:-64}" \
        --repeat 1 > "$out/$w-$v.round$round.txt" 2>&1 ||
        echo "ab: bench of $w-$v failed (round $round)" >&2
    done
  done
done
python3 - "$out" "$variants" "$weights" <<'PY'
import os, re, sys
out, variants, weights = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def decode(path, batch):
    try:
        text = open(path).read()
    except OSError:
        return None
    m = re.search(rf"^decode\s+batch {batch}: ([0-9.]+) ms", text, re.M)
    return float(m.group(1)) if m else None
ms = {}
for w in weights:
    for v in variants:
        for b in (1, 8):
            runs = [decode(f"{out}/{w}-{v}.round{r}.txt", b) for r in (1, 2)]
            runs = [r for r in runs if r is not None]
            ms[w, v, b] = (min(runs), max(runs)) if runs else None
print(f"{'package':28} {'b1 ms (2 rounds)':>18} {'vs default':>10} "
      f"{'b8 ms (2 rounds)':>18} {'vs default':>10}")
for w in weights:
    for v in variants:
        if not os.path.isdir(f"{out}/{w}-{v}"):
            continue
        cells = []
        for b in (1, 8):
            m, base = ms[w, v, b], ms.get((w, "default", b))
            if m is None:
                cells += ["failed", ""]
                continue
            cells += [f"{m[0]:.3f}-{m[1]:.3f}",
                      f"{base[0] / m[0]:.3f}x" if base else ""]
        print(f"{w + ' ' + v:28} {cells[0]:>18} {cells[1]:>10} "
              f"{cells[2]:>18} {cells[3]:>10}")
for q in ("int4", "int8"):
    for v in variants if {"bf16", q} <= set(weights) else []:
        b, i = ms["bf16", v, 1], ms[q, v, 1]
        if b and i:
            print(f"{q} speed-up over bf16, batch 1, {v}: {b[0] / i[0]:.2f}x")
PY
# Where the time goes: one decode step of each weight type's first two
# option sets, batch 1, each launch timed alone (ZAMBA2_CUDA_PROFILE=1; no
# graph, so every kernel pays its launch). ZAMBA2_AB_PROFILE=0 skips it.
[[ ${ZAMBA2_AB_PROFILE:-1} == 0 ]] && weights=""
for w in $weights; do
  for v in $(echo "$variants" | cut -d' ' -f1-2); do
    [[ -d $out/$w-$v ]] || continue
    echo "== profile $w-$v"
    ZAMBA2_CUDA_PROFILE=1 "$bin/zamba2-bench" "$out/$w-$v" --prefill 16 \
      --batch 1 --decode 4 --repeat 1 2>&1 | sed -n '/^profile/,$p' | head -40
  done
done
if [[ $preset == 1.2b ]]; then
  python3 "$here/bench/gpu/torch_graph_peer.py" 2>&1 | grep RESULT
fi
