#!/bin/bash
# Numerics of CUDA packages against CPU packages of the same checkpoints, for
# a GPU machine without LLVM/MLIR. Two steps:
#   bench/gpu/check_cuda.sh prepare BIN_DIR OUT   (here: compiles)
#     CPU logits (zamba2-run --score, prefill of 20 tokens then decode
#     steps) and CUDA packages without weights for the two fixtures and two
#     synthesized hidden-256 models (one and two Mamba groups), each as f32
#     and int4, with the default passes and with --fuse-norm; the runtime
#     tools go to OUT/bin.
#   bench/gpu/check_cuda.sh check OUT             (on the GPU machine)
#     packs the weights, scores the same tokens on the GPU and compares:
#     f32 against the CPU f32 logits (1e-5 relative L2) and against the
#     fixture's float64 reference (1e-4), --fuse-norm against the default
#     CUDA package (1e-6), int4 against the CPU int4 logits (1e-5).
#     Ends with "N passed, N failed"; exit status 1 when any failed.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
mode=${1:?usage: check_cuda.sh prepare BIN_DIR OUT | check OUT}
models="tiny-lora-rope tiny-two-blocks s256 s256g2"
tokens=$here/test/fixtures/tiny-lora-rope/reference.safetensors

reference() { # the token file of model $1
  case $1 in
    tiny-two-blocks) echo "$here/test/fixtures/tiny-two-blocks/reference.safetensors" ;;
    *) echo "$tokens" ;;
  esac
}

synthesize() { # BIN OUT: the hidden-256 checkpoints (deterministic)
  "$1/zamba2-synth" --preset tiny --hidden 256 -o "$2/ckpt-s256" > /dev/null &&
    python3 - "$2/ckpt-s256/config.json" "$2/g2config.json" <<'PY' &&
import json, sys
c = json.load(open(sys.argv[1]))
c["mamba_ngroups"] = 2
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
  mkdir -p "$out/bin"
  cp "$bin"/zamba2-{synth,pack,run,compare} "$out/bin/"
  synthesize "$bin" "$out" || exit 1
  for m in $models; do
    ck=$(checkpoint "$out" "$m")
    for q in f32 int4; do
      quant=()
      [[ $q == int4 ]] && quant=(--quantize int4)
      "$bin/zamba2-compile" "$ck" -o "$out/cpu-$m-$q" "${quant[@]}" --quiet &&
        "$bin/zamba2-run" "$out/cpu-$m-$q" --score "$(reference "$m")" \
          --out "$out/cpu-$m-$q.safetensors" --decode-from 20 > /dev/null || exit 1
      rm -rf "$out/cpu-$m-$q"
      for norm in default fuse-norm; do
        flags=(--target cuda --weight-type f32 "${quant[@]}")
        [[ $norm == fuse-norm ]] && flags+=(--fuse-norm)
        pkg=$out/cuda-$m-$q-$norm
        "$bin/zamba2-compile" "$ck" -o "$pkg" "${flags[@]}" --quiet || exit 1
        rm -f "$pkg/weights.bin"
      done
    done
  done
  rm -rf "$out/ckpt-s256" "$out/ckpt-s256g2"
  echo "prepared $out"
  exit 0
fi

out=${2:?OUT}
bin=$out/bin
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
    for norm in default fuse-norm; do
      pkg=$out/cuda-$m-$q-$norm
      "$bin/zamba2-pack" "$ck" "$pkg" > /dev/null &&
        "$bin/zamba2-run" "$pkg" --score "$(reference "$m")" \
          --out "$pkg.safetensors" --decode-from 20 > /dev/null ||
        { failed=$((failed + 1)); echo "FAIL $m $q $norm: did not run"; }
    done
    compare "$m $q vs CPU" "$out/cuda-$m-$q-default.safetensors" "$out/cpu-$m-$q.safetensors" 1e-5
    compare "$m $q --fuse-norm vs CPU" "$out/cuda-$m-$q-fuse-norm.safetensors" "$out/cpu-$m-$q.safetensors" 1e-5
    compare "$m $q --fuse-norm vs default" "$out/cuda-$m-$q-fuse-norm.safetensors" "$out/cuda-$m-$q-default.safetensors" 1e-6
  done
  case $m in tiny*)
    compare "$m f32 vs float64 reference" "$out/cuda-$m-f32-fuse-norm.safetensors" "$(reference "$m")" 1e-4 ;;
  esac
done
echo "$passed passed, $failed failed"
((failed == 0))
