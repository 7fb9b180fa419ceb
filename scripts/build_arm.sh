#!/usr/bin/env bash
# Cross-builds the project for 64-bit Arm Linux (aarch64) into ./build-arm: sets up the machine
# (scripts/setup.sh --arm), builds the Halide generators for this machine, and configures and
# builds the given targets (all if none) with cmake/toolchains/aarch64-linux-gnu.cmake. The
# generators run here and emit arm-64-linux kernels; everything else is compiled for aarch64 and
# runs under qemu-aarch64 (scripts/test_arm.sh). Extra CMake settings go in RETNET_CMAKE_ARGS.
#
# The generators come from ./build when it is configured (scripts/build.sh; only its
# retnet_generators target is brought up to date), else from ./build-arm-host, configured here
# for them alone. RETNET_ARM_HOST_BUILD=DIR names another build for this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --arm
jobs=$(nproc)

host=${RETNET_ARM_HOST_BUILD:-}
if [ -z "$host" ]; then
  if [ -f build/CMakeCache.txt ]; then host=build; else host=build-arm-host; fi
fi
if [ ! -f "$host/CMakeCache.txt" ]; then
  cmake -S . -B "$host" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRETNET_GPU_TARGETS=none \
        -DRETNET_BUILD_TESTS=OFF -DRETNET_BUILD_APPS=OFF >/dev/null
fi
cmake --build "$host" --parallel "$jobs" --target retnet_generators
host=$(realpath "$host")

# Halide's CMake functions and runtime headers are the build machine's (architecture-independent);
# SentencePiece is the arm64 library that setup.sh unpacked (it is not Multi-Arch).
host_multiarch=$(gcc -print-multiarch)
cmake -S . -B build-arm -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/aarch64-linux-gnu.cmake" \
      -DHalideHelpers_DIR="/usr/lib/$host_multiarch/cmake/HalideHelpers14" \
      -Dretnet_halide-halide_generators_DIR="$host/cmake" \
      -DRETNET_SENTENCEPIECE_LIBRARY="$PWD/build-arm-deps/sentencepiece/usr/lib/aarch64-linux-gnu/libsentencepiece.so.0" \
      ${RETNET_CMAKE_ARGS:-} >/dev/null
if [ $# -eq 0 ]; then
  cmake --build build-arm --parallel "$jobs"
else
  cmake --build build-arm --parallel "$jobs" --target "$@"
fi
