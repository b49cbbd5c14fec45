#!/usr/bin/env bash
# The test command (README, .ci/run): sets everything up with scripts/setup.sh, then runs
#   1. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/),
#      those beside a private PostgreSQL included (not the pgsql scripts: no C++ runs in them),
#   2. every libFuzzer target for a bounded number of runs (build-fuzz/, clang),
#   3. a Release build of everything, as a packager builds it (compiled, not run),
#   4. all unit and end-to-end tests (ctest in build/), ending with ctest's summary.
# Every build treats compiler warnings as errors (SG_WERROR). End-to-end tests start private
# Postfix instances on 127.0.0.1 and need root.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

SG_WERROR=ON scripts/setup.sh

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSG_SANITIZE=ON -DSG_PROGRAMS=OFF -DSG_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -j"$jobs" --output-on-failure -LE pgsql

echo "== fuzz targets (libFuzzer, ${SG_FUZZ_RUNS:=20000} runs each)"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSG_FUZZ=ON -DSG_WERROR=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz -j"$jobs"
for target in build-fuzz/bin/fuzz_*; do
  name=$(basename "$target")
  scratch=$(mktemp -d)
  # New inputs go to the scratch dir; the committed seed corpus is only read.
  "$target" -runs="$SG_FUZZ_RUNS" -max_len=4096 "$scratch" "tests/fuzz/corpus/$name" 2>"$scratch.log" \
    || { tail -n 40 "$scratch.log"; rm -rf "$scratch" "$scratch.log"; echo "fuzz: $name failed"; exit 1; }
  echo "fuzz: $name: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second\(s\)' "$scratch.log" || echo done)"
  rm -rf "$scratch" "$scratch.log"
done

echo "== Release build (warnings are errors)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DSG_WERROR=ON >/dev/null
cmake --build build-release -j"$jobs"

echo "== unit and end-to-end tests"
ctest --test-dir build -j"$jobs" --output-on-failure
