#!/usr/bin/env bash
# Builds the test suites with AddressSanitizer and UndefinedBehaviorSanitizer (./build-sanitize,
# scripts/build_sanitize.sh) and runs them with ctest: any report (memory error, leak, undefined
# behaviour) aborts its test, and fails this script. Arguments go to ctest (e.g. -R Safetensors).
set -euo pipefail
cd "$(dirname "$0")/.."
# tests/all: every suite and what it needs (test_cli runs `retnet`), not the tuner.
bash scripts/build_sanitize.sh tests/all fuzz/all
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-sanitize --output-on-failure --parallel "$(nproc)" "$@"
