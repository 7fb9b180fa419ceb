#!/usr/bin/env bash
# Installs, from Debian's archive only, whatever this project needs that the machine lacks.
# Safe to run again: it installs nothing that is already present and downloads nothing else.
set -euo pipefail

packages=(
  cmake ninja-build g++            # the build
  libhalide14-0-dev llvm-14-dev    # Halide 14 (generators, AOT compiler, runtime headers)
  libfmt-dev                       # formatting of tables and messages
  libgtest-dev                     # the test suites
  nlohmann-json3-dev               # JSON (bench CSV/JSON, later config and tuning files)
  libcli11-dev                     # the `retnet` command line
  libsentencepiece-dev             # tokenizers: SentencePiece models (tokenizer.model, spiece.model)
  libpcre2-dev                     # tokenizers: the pre-tokenizer regular expressions of tokenizer.json
  libutf8proc-dev                  # tokenizers: Unicode normalizers (NFC, NFKC, ...) of tokenizer.json
  pocl-opencl-icd ocl-icd-opencl-dev  # OpenCL on the CPU (PoCL): runs the GPU-style kernels where there is no GPU;
                                      # the -dev package gives the libOpenCL.so name Halide dlopens
  clang-14 libclang-rt-14-dev      # the sanitizer and fuzz build (scripts/sanitize.sh, scripts/fuzz.sh): clang and
                                   # its runtimes (ASan, UBSan, libFuzzer); LLVM 14, as Halide's
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
