#!/usr/bin/env bash
# Sets up the machine, configures and builds the given targets in ./build-sanitize: clang-14 with
# AddressSanitizer, UndefinedBehaviorSanitizer and libFuzzer (RETNET_FUZZ) on the runtime, apps,
# tests and fuzz targets. Only what the suites and fuzzers need, and cheaply: CPU kernels for the
# host alone, no GPU kernels, no tuned variants (docs/ROBUSTNESS.md). Used by scripts/sanitize.sh
# and scripts/fuzz.sh; extra CMake settings go in RETNET_CMAKE_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CC=clang-14 CXX=clang++-14 cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DRETNET_FUZZ=ON -DRETNET_SANITIZE=address,undefined \
      -DRETNET_CPU_TARGETS=host -DRETNET_GPU_TARGETS=none -DRETNET_TUNING_DB= \
      ${RETNET_CMAKE_ARGS:-} >/dev/null
cmake --build build-sanitize --parallel "$(nproc)" --target "$@"
