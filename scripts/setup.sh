#!/usr/bin/env bash
# Installs, from Debian's archive only, whatever this project needs that the machine lacks.
# Safe to run again: it installs nothing that is already present and downloads nothing else.
#   --arm   also what the 64-bit Arm cross build needs (scripts/build_arm.sh, scripts/test_arm.sh):
#           the aarch64 cross compiler, qemu-user to run its binaries, and the arm64 builds of the
#           libraries the runtime, `retnet` and the tests link (Debian multiarch).
set -euo pipefail
cd "$(dirname "$0")/.."

arm=0
for arg in "$@"; do
  case "$arg" in
    --arm) arm=1 ;;
    *) echo "setup: unknown argument '$arg' (expected --arm)" >&2; exit 1 ;;
  esac
done

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
if [ "$arm" -eq 1 ]; then
  # The Halide generators run on this machine (the list above); the kernels, the runtime and the
  # tests are compiled for aarch64 and run under qemu-user's qemu-aarch64, named explicitly as the
  # build's emulator: the aarch64 programs are dynamically linked against the arm64 loader and
  # libraries that multiarch installs here. Neither qemu-user-static (static emulators, for
  # foreign-architecture chroots) nor a binfmt_misc registration (not mounted on these machines)
  # is needed. nlohmann-json and CLI11 are header-only and architecture-independent. Every arm64
  # -dev here is Multi-Arch: same, so it installs beside its amd64 twin.
  packages+=(
    g++-aarch64-linux-gnu qemu-user
    libfmt-dev:arm64 libgtest-dev:arm64 libpcre2-dev:arm64 libutf8proc-dev:arm64
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
add_arch=0
if [ "$arm" -eq 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  add_arch=1
fi

# SentencePiece is not Multi-Arch (neither libsentencepiece-dev nor libsentencepiece0), so its arm64
# build cannot be installed beside the amd64 one. The arm64 shared library of the same version is
# unpacked from its Debian package into build-arm-deps/ instead; the headers (architecture-
# independent) are the amd64 -dev package's.
spm_dir=build-arm-deps/sentencepiece
spm_lib=$spm_dir/usr/lib/aarch64-linux-gnu/libsentencepiece.so.0
need_spm=0
if [ "$arm" -eq 1 ] && [ ! -e "$spm_lib" ]; then
  need_spm=1
fi

if [ ${#missing[@]} -eq 0 ] && [ "$add_arch" -eq 0 ] && [ "$need_spm" -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
if [ "$add_arch" -eq 1 ]; then
  echo "setup: adding the arm64 architecture to dpkg"
  "${sudo_cmd[@]}" dpkg --add-architecture arm64
fi
if [ ${#missing[@]} -gt 0 ] || [ "$add_arch" -eq 1 ] || [ "$need_spm" -eq 1 ]; then
  "${sudo_cmd[@]}" apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ "$need_spm" -eq 1 ]; then
  version=$(dpkg-query -W -f='${Version}' libsentencepiece0)
  echo "setup: unpacking libsentencepiece0:arm64 $version into $spm_dir"
  tmp=$(mktemp -d)
  if id _apt >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    chown _apt "$tmp"  # apt-get download writes as the _apt user (else it warns and writes as root)
  fi
  (cd "$tmp" && apt-get download -qq "libsentencepiece0:arm64=$version")
  rm -rf "$spm_dir"
  mkdir -p "$spm_dir"
  dpkg-deb -x "$tmp"/libsentencepiece0_*_arm64.deb "$spm_dir"
  rm -rf "$tmp"
  test -e "$spm_lib"
fi
