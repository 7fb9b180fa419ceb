#!/usr/bin/env bash
# Builds the test suites and `retnet` as portable binaries (static libstdc++/libgcc, fmt header-only,
# Halide kernels and runtime linked in) and puts them in .device/bin, a folder git ignores, to be
# carried to a CUDA machine that has neither Halide nor these Debian packages. There,
# scripts/gpu_run.sh runs them. Building needs no GPU: the CUDA kernels are PTX that the driver
# compiles when they first load.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# RETNET_GPU_SWEEP=1 also builds the CUDA schedule variants and retnet-gpu-sweep, which times them.
sweep=${RETNET_GPU_SWEEP:-0}
cmake -S . -B build-portable -G Ninja -DCMAKE_BUILD_TYPE=Release -DRETNET_PORTABLE_BINARIES=ON \
      -DRETNET_GPU_TARGETS=both -DRETNET_GPU_SWEEP=$([ "$sweep" = 1 ] && echo ON || echo OFF) \
      ${RETNET_CMAKE_ARGS:-} >/dev/null
suites=(test_retention_forms test_decode_step test_retention_errors test_tensor test_layers test_model test_model_files
        test_decode_session test_attention)
targets=(retnet "${suites[@]}")
[ "$sweep" = 1 ] && targets+=(retnet-gpu-sweep)
cmake --build build-portable --parallel "$(nproc)" --target "${targets[@]}"
rm -rf .device/bin && mkdir -p .device/bin
cp build-portable/apps/retnet .device/bin/
for s in "${suites[@]}"; do cp "build-portable/tests/$s" .device/bin/; done
[ "$sweep" = 1 ] && cp build-portable/apps/tune/retnet-gpu-sweep .device/bin/
strip .device/bin/*
# The shared libraries `retnet` needs beyond the C and C++ runtimes (the tokenizers': SentencePiece
# has no static library in Debian), beside the binaries; scripts/gpu_run.sh puts them on the path.
rm -rf .device/lib && mkdir -p .device/lib
ldd .device/bin/retnet | awk '/=> \// {print $3}' | grep -v -E '/lib(c|m|dl|rt|pthread|stdc\+\+|gcc_s)\.so' |
  xargs -r -I{} cp -L {} .device/lib/
du -sh .device/bin .device/lib
