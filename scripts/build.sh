#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), configures and builds the given targets (all if none)
# in ./build with every core. Extra CMake settings go in RETNET_CMAKE_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${RETNET_CMAKE_ARGS:-} >/dev/null
jobs=$(nproc)
if [ $# -eq 0 ]; then
  cmake --build build --parallel "$jobs"
else
  cmake --build build --parallel "$jobs" --target "$@"
fi
