#!/bin/bash
# Numerics of CUDA packages against CPU packages of the same checkpoints, for
# a GPU machine without LLVM/MLIR. Two steps:
#   bench/gpu/check_cuda.sh prepare BIN_DIR OUT   (here: compiles)
#     CPU logits (zamba2-run --score, prefill of 20 tokens then decode
#     steps) and CUDA packages without weights for the two fixtures and two
#     synthesized hidden-256 models (one and two Mamba groups, the second
#     with adapters of rank 64, so that int4 quantizes their B), each as f32
#     and int4, with the default passes, with --fuse-norm=false, with
#     --prefetch-weights, with --fuse-conv=false, with
#     --merge-launches=false, with --early-trigger, with
#     --one-row-early-trigger=false and with --fuse-scan; each scored on the
#     fixture's batch of 2 and on its row 0 alone (batch 1: the one-row
#     decode kernels); the runtime tools and the token files go to OUT.
#   bench/gpu/check_cuda.sh check OUT             (on the GPU machine)
#     packs the weights, scores the same tokens on the GPU and compares:
#     f32 against the CPU f32 logits (1e-5 relative L2) and against the
#     fixture's float64 reference (1e-4), --fuse-norm=false against the
#     default CUDA package (1e-6), --prefetch-weights, --fuse-conv=false,
#     --merge-launches=false, --early-trigger,
#     --one-row-early-trigger=false and --fuse-scan against it bit for bit
#     (0), int4 against the CPU int4 logits (1e-5).
#     Ends with "N passed, N failed"; exit status 1 when any failed.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
mode=${1:?usage: check_cuda.sh prepare BIN_DIR OUT | check OUT}
models="tiny-lora-rope tiny-two-blocks s256 s256g2"
tokens=$here/test/fixtures/tiny-lora-rope/reference.safetensors

reference() { # the fixture file (tokens and float64 logits) of model $1
  case $1 in
    tiny-two-blocks) echo "$here/test/fixtures/tiny-two-blocks/reference.safetensors" ;;
    *) echo "$tokens" ;;
  esac
}
batches="b2 b1"
# ZAMBA2_CHECK_VARIANTS (prepare) picks the option sets ("default" first);
# prepare records them in OUT for check.
variants=${ZAMBA2_CHECK_VARIANTS:-default no-fuse-norm prefetch no-fuse-conv no-merge-launches early-trigger no-one-row-early fuse-scan}

tokens_of() { # OUT MODEL BATCH: the token file (b1: row 0 of the fixture's)
  if [[ $3 == b2 ]]; then reference "$2"; else echo "$1/tokens-$2-b1.safetensors"; fi
}

flags_of() { # VARIANT: zamba2-compile flags beside --target cuda
  case $1 in
    no-fuse-norm) echo --fuse-norm=false ;;
    prefetch) echo --prefetch-weights ;;
    no-fuse-conv) echo --fuse-conv=false ;;
    no-merge-launches) echo --merge-launches=false ;;
    early-trigger) echo --early-trigger ;;
    no-one-row-early) echo --one-row-early-trigger=false ;;
    fuse-scan) echo --fuse-scan ;;
    default) ;;
    *) echo "check_cuda: unknown option set $1" >&2; return 1 ;;
  esac
}

same_as_default() { # VARIANT: its tolerance against the default package
  # --fuse-conv=false: the same f32 operations (mul.rn/add.rn, no
  # contraction) in another kernel, so bit-identical; --merge-launches=false:
  # the same kernels, launched apart; --early-trigger and
  # --one-row-early-trigger=false: the same kernels, overlapping more or
  # fewer of the ones before them; --prefetch-weights: the same
  # kernels with an L2 prefetch; --fuse-scan: the scan's operations on the
  # same values in the in_proj's kernel; --fuse-norm=false reorders sums.
  case $1 in
    no-fuse-conv | no-merge-launches | early-trigger | no-one-row-early | prefetch | fuse-scan) echo 0 ;;
    *) echo 1e-6 ;;
  esac
}

synthesize() { # BIN OUT: the hidden-256 checkpoints (deterministic)
  "$1/zamba2-synth" --preset tiny --hidden 256 -o "$2/ckpt-s256" > /dev/null &&
    python3 - "$2/ckpt-s256/config.json" "$2/g2config.json" <<'PY' &&
import json, sys
c = json.load(open(sys.argv[1]))
c["mamba_ngroups"] = 2
c["adapter_rank"] = 64  # one int4 group: B quantized, the fused adapter kernel
json.dump(c, open(sys.argv[2], "w"))
PY
    "$1/zamba2-synth" --config "$2/g2config.json" -o "$2/ckpt-s256g2" > /dev/null
}

checkpoint() { # OUT MODEL
  case $2 in
    s256 | s256g2) echo "$1/ckpt-$2" ;;
    *) echo "$here/test/fixtures/$2" ;;
  esac
}

if [[ $mode == prepare ]]; then
  bin=${2:?BIN_DIR}
  out=${3:?OUT}
  for v in $variants; do flags_of "$v" > /dev/null || exit 1; done
  mkdir -p "$out/bin"
  cp "$bin"/zamba2-{synth,pack,run,compare} "$out/bin/"
  synthesize "$bin" "$out" || exit 1
  for m in $models; do
    python3 "$here/test/run/Inputs/st.py" batch-row "$(reference "$m")" \
      "$(tokens_of "$out" "$m" b1)" 0 || exit 1
    ck=$(checkpoint "$out" "$m")
    for q in f32 int4; do
      quant=()
      [[ $q == int4 ]] && quant=(--quantize int4)
      "$bin/zamba2-compile" "$ck" -o "$out/cpu-$m-$q" "${quant[@]}" --quiet || exit 1
      for b in $batches; do
        "$bin/zamba2-run" "$out/cpu-$m-$q" --score "$(tokens_of "$out" "$m" "$b")" \
          --out "$out/cpu-$m-$q-$b.safetensors" --decode-from 20 > /dev/null || exit 1
      done
      rm -rf "$out/cpu-$m-$q"
      for v in $variants; do
        pkg=$out/cuda-$m-$q-$v
        # shellcheck disable=SC2046
        "$bin/zamba2-compile" "$ck" -o "$pkg" --target cuda --weight-type f32 \
          "${quant[@]}" $(flags_of "$v") --quiet || exit 1
        rm -f "$pkg/weights.bin"
      done
    done
  done
  rm -rf "$out/ckpt-s256" "$out/ckpt-s256g2"
  echo "$variants" > "$out/variants"
  echo "prepared $out"
  exit 0
fi

out=${2:?OUT}
bin=$out/bin
[[ -f $out/variants ]] && variants=$(cat "$out/variants")
synthesize "$bin" "$out" || exit 1
passed=0 failed=0
compare() { # WHAT A B TOLERANCE
  local line
  if line=$("$bin/zamba2-compare" "$2" "$3" --tensor logits --max-rel-l2 "$4" 2>&1); then
    passed=$((passed + 1))
    echo "ok   $1: $line"
  else
    failed=$((failed + 1))
    echo "FAIL $1: $line"
  fi
}
for m in $models; do
  ck=$(checkpoint "$out" "$m")
  for q in f32 int4; do
    for v in $variants; do
      "$bin/zamba2-pack" "$ck" "$out/cuda-$m-$q-$v" > /dev/null ||
        { failed=$((failed + 1)); echo "FAIL $m $q $v: did not pack"; }
    done
    for b in $batches; do
      cuda() { echo "$out/cuda-$m-$q-$1-$b.safetensors"; }
      for v in $variants; do
        "$bin/zamba2-run" "$out/cuda-$m-$q-$v" --score "$(tokens_of "$out" "$m" "$b")" \
          --out "$(cuda "$v")" --decode-from 20 > /dev/null ||
          { failed=$((failed + 1)); echo "FAIL $m $q $v $b: did not run"; }
      done
      compare "$m $q $b vs CPU" "$(cuda default)" "$out/cpu-$m-$q-$b.safetensors" 1e-5
      for v in $variants; do
        [[ $v == default ]] && continue
        compare "$m $q $b $v vs CPU" "$(cuda "$v")" "$out/cpu-$m-$q-$b.safetensors" 1e-5
        compare "$m $q $b $v vs default" "$(cuda "$v")" "$(cuda default)" "$(same_as_default "$v")"
      done
      if [[ $m == tiny* && $q == f32 ]]; then
        compare "$m f32 $b vs float64 reference" "$(cuda default)" \
          "$(tokens_of "$out" "$m" "$b")" 1e-4
      fi
    done
  done
done
echo "$passed passed, $failed failed"
((failed == 0))
