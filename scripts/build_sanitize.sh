#!/usr/bin/env bash
# Sets up the machine, configures and builds the given targets in ./build-sanitize: clang-14 with
# AddressSanitizer, UndefinedBehaviorSanitizer and libFuzzer (RETNET_FUZZ) on the runtime, apps,
# tests and fuzz targets. Only what the suites and fuzzers need, and cheaply: CPU kernels for one
# target, no GPU kernels, no tuned variants (docs/ROBUSTNESS.md). Used by scripts/sanitize.sh
# and scripts/fuzz.sh; extra CMake settings go in RETNET_CMAKE_ARGS.
#
# The one target is the product's AVX2 level, not Halide's "host": Halide 14 takes an AMD Zen 4
# for a Sapphire Rapids and then lets LLVM use AVX512-FP16, which Zen 4 lacks (a bfloat16 kernel's
# 16-bit load became `vmovw` and stopped with an illegal instruction).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CC=clang-14 CXX=clang++-14 cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DRETNET_FUZZ=ON -DRETNET_SANITIZE=address,undefined \
      -DRETNET_CPU_TARGETS=x86-64-linux-sse41-avx-f16c-fma-avx2 -DRETNET_GPU_TARGETS=none -DRETNET_TUNING_DB= \
      ${RETNET_CMAKE_ARGS:-} >/dev/null
cmake --build build-sanitize --parallel "$(nproc)" --target "$@"
