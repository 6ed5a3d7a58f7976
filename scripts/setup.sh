#!/usr/bin/env bash
# Installs what zamba2c needs on Debian 12 (bookworm) and configures and builds
# it. Idempotent: packages already installed are not fetched again, an existing
# build directory is reused and only out-of-date targets are rebuilt.
#
#   scripts/setup.sh            # install + configure + build (build/)
#   ZAMBA2_BUILD_DIR=DIR scripts/setup.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ZAMBA2_BUILD_DIR:-$root/build}

packages=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools  # MLIR/LLVM 22, lit, FileCheck
  clang-22 lld-22 libclang-rt-22-dev                       # compiler, linker, libFuzzer/ASan
  cmake ninja-build libgtest-dev                           # build and unit tests
  python3                                                  # lit
)

missing=()
for p in "${packages[@]}"; do
  [[ $p == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -f $build/build.ninja ]]; then
  echo "setup: configuring $build" >&2
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DZAMBA2_BUILD_FUZZERS=ON \
    -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld \
    -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld
fi
echo "setup: building" >&2
cmake --build "$build"
