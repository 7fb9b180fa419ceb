#!/usr/bin/env bash
# Fuzzes every reader of untrusted input (fuzz/fuzz_*.cpp, libFuzzer with ASan and UBSan, built in
# ./build-sanitize by scripts/build_sanitize.sh), one target after another:
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    # default 60 s each, every target
#   scripts/fuzz.sh --runs N [TARGET...]                # N executions each instead (the long run)
#
# TARGET is a name such as safetensors (fuzz/fuzz_safetensors.cpp). Each starts from a corpus of
# the test data's files and the hand-written seeds (fuzz/seeds/TARGET), which grows in
# build-sanitize/fuzz-corpus/TARGET across runs. A crash, sanitizer report, leak, timeout (10 s)
# or out-of-memory (2 GB) fails the target; its input is kept in build-sanitize/fuzz-artifacts/TARGET
# (replay: build-sanitize/fuzz/fuzz_TARGET FILE). Extra libFuzzer flags: RETNET_FUZZ_ARGS
# (e.g. "-fork=2" for both cores). Prints one line per target and "fuzz: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."

runs=""
if [ "${1:-}" = --runs ]; then
  runs=$2
  shift 2
fi
seconds=60
if [ -z "$runs" ] && [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi

# Per target: the largest input (the test checkpoints are up to ~120 KB; a .npy header up to 64 KB),
# and the test data copied into the corpus. A target not listed gets 8192 bytes and its seeds only.
declare -A max_len=([safetensors]=131072 [npy]=70000 [model_config]=8192 [token_file]=8192 [tokenizer_json]=131072)
declare -A seed_globs=(
  [safetensors]="tests/data/models/*/*.safetensors"
  [model_config]="tests/data/models/*/config.json models/*/config.json"
  [npy]="tests/data/models/*/*.npy"
  [token_file]="tests/data/models/*/tokens.txt"
  [tokenizer_json]="tests/data/tokenizers/*/tokenizer.json"
)

build=build-sanitize
if [ $# -gt 0 ]; then
  targets=("$@")
  bash scripts/build_sanitize.sh "${targets[@]/#/fuzz_}" || exit 1
else
  bash scripts/build_sanitize.sh fuzz/all || exit 1
  targets=()
  for exe in "$build"/fuzz/fuzz_*; do
    [ -f "$exe" ] && [ -x "$exe" ] && targets+=("${exe##*/fuzz_}")
  done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0
failed=0
for t in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$t
  artifacts=$build/fuzz-artifacts/$t
  log=$build/fuzz-logs/$t.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  # Seeds: copied at run time, not committed twice (libFuzzer dedups by content as it loads).
  for f in ${seed_globs[$t]:-} fuzz/seeds/"$t"/*; do
    [ -f "$f" ] && cp "$f" "$corpus/seed-${f//\//_}"
  done
  args=(-rss_limit_mb=2048 -timeout=10 -max_len="${max_len[$t]:-8192}" -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [ -f "fuzz/$t.dict" ] && args+=(-dict="fuzz/$t.dict")
  if [ -n "$runs" ]; then args+=(-runs="$runs"); else args+=(-max_total_time="$seconds"); fi
  before=$(ls "$artifacts")
  # shellcheck disable=SC2086  # RETNET_FUZZ_ARGS is a list of flags
  "$build/fuzz/fuzz_$t" "${args[@]}" ${RETNET_FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  echo "fuzz_$t: ${execs:-?} executions, corpus $(ls "$corpus" | wc -l) files, exit $rc (log $log)"
  new=$(comm -13 <(echo "$before") <(ls "$artifacts"))
  if [ $rc -eq 0 ] && [ -z "$new" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    grep -m3 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|terminate called|.*uncaught exception)' "$log" | sed 's/^/    /'
    for f in $new; do echo "    input: $artifacts/$f"; done
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
