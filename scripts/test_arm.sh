#!/usr/bin/env bash
# Cross-builds for 64-bit Arm (scripts/build_arm.sh) and checks the build under qemu-aarch64:
#   1. the test suites (retention forms, layers, model and the others) with ctest: the toolchain
#      file makes qemu-aarch64 their emulator;
#   2. `retnet generate` with the shipped model, greedy and sampled, whose text must equal the x86-64
#      build's (./build, scripts/build.sh) for the same prompt and seed.
# Prints each stage's time. Arguments go to ctest (e.g. -R Linear).
#
# Under qemu the suites' float64 reference and the kernels run tens of times slower than natively,
# so three kinds of test are left to the x86-64 run (scripts/test.sh): the long-sequence ones
# (one took ten minutes under qemu), every head dimension on five of the six chunk lengths (the
# sixth, 64, and the other forms still run it), and the CLI's perplexity of 3000 bytes with the
# shipped model (a minute). Everything else of every suite runs.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
stage_start=$SECONDS
stage() {
  echo "test_arm: $1: $((SECONDS - stage_start)) s"
  stage_start=$SECONDS
}

# First the x86-64 `retnet` (nothing to do after scripts/test.sh): its text is the reference, and
# the cross build then reuses its generators.
bash scripts/build.sh retnet
stage "x86-64 retnet (build)"
bash scripts/build_arm.sh
stage "cross build (build-arm)"

# Every suite (labelled by its executable; not the configure-time tests, which run cmake), less
# the long ones below and the GPU instances (no GPU kernels in the Arm build: they would only skip).
slow='LongSequence|MatchesReferenceAcrossHeadDims/cpu_chunkwise_c(16|32|128|256|512)|Cli\.PerplexityReportsProgressOnStderr'
gpu='/(cuda|opencl)([_ ]|$)'
ctest --test-dir build-arm --output-on-failure --parallel "$(nproc)" -L '^test_' -E "$slow|$gpu" "$@"
stage "suites under qemu-aarch64"

# The same text on both architectures. The kernels' sums are vectorized differently (x86-64: 16 or
# 8 floats a vector, NEON: 4), so a near-tie between two tokens could in principle go either way;
# with this prompt and seed the texts are equal, and a difference is worth a look.
prompt="And God said"
for mode in "--temperature 0" "--seed 7"; do
  args=(generate --model models/kjv-byte --prompt "$prompt" --max-tokens 200 $mode)
  x86=$(./build/apps/retnet "${args[@]}")
  arm=$(qemu-aarch64 build-arm/apps/retnet "${args[@]}")
  if [ "$x86" != "$arm" ]; then
    echo "test_arm: retnet ${args[*]}: the aarch64 text differs from the x86-64 one" >&2
    diff <(echo "$x86") <(echo "$arm") >&2 || true
    exit 1
  fi
  echo "test_arm: retnet generate $mode: the same ${#arm} characters on aarch64 and x86-64"
done
stage "retnet generate, x86-64 and aarch64"
echo "test_arm: total $((SECONDS - start)) s"
