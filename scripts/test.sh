#!/usr/bin/env bash
# synod's one test command (CI runs exactly this through .ci/run):
#   a. install the Debian packages synod needs (scripts/install-deps.sh)
#   b. build/       RelWithDebInfo (-O2 -g1), warnings as errors; run every test; then
#                   install it and build and run examples/embed against it
#   c. build-asan/  address + undefined-behaviour sanitizers (-O1 -g1); every test but
#                   those labelled `slow`
#   d. build-fuzz/  clang 16 + libc++: builds target synod_fuzz (the libFuzzer
#                   targets) and runs the tests labelled `fuzz` (20 s each)
# It runs from any directory, reuses the build directories when re-run, and
# ends with "tests: N passed, M failed" (counted over all ctest runs).
#
# Knobs (environment):
#   SYNOD_TEST_SKIP_ASAN=1   skip step c
#   SYNOD_TEST_SKIP_FUZZ=1   skip step d
#   SYNOD_TEST_JOBS=N        build parallelism (default: nproc)
#   SYNOD_FUZZ_CXX=...       the clang for step d (default: clang++-16)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly jobs="${SYNOD_TEST_JOBS:-$(nproc)}"
readonly start_seconds=$SECONDS
passed=0
failed=0
step_start=$SECONDS

step() {
  step_start=$SECONDS
  printf '\n==== %s ====\n' "$*"
}

step_done() { printf -- '---- done in %ds\n' $((SECONDS - step_start)); }

summary() {
  local status=$?
  local total=$((SECONDS - start_seconds))
  printf '\n==== summary ====\n'
  printf 'total time: %dm%02ds\n' $((total / 60)) $((total % 60))
  if [ "$status" -ne 0 ]; then
    echo "scripts/test.sh FAILED (exit $status); see the first error above"
  fi
  # The closing line CI reads: plain counts, alone on the line.
  echo "tests: $passed passed, $failed failed"
}
trap summary EXIT

# build DIR OPT [cmake options...]: configure (reusing DIR's cache) and build,
# RelWithDebInfo at optimisation OPT with line tables only (-g1): full debug
# information nearly doubles the build time on 2 cores, and line tables are
# what sanitizer reports and profiles need. Unity batches (CMAKE_UNITY_BUILD)
# parse the shared headers once per batch instead of once per file: about 40%
# less build time here. A plain `cmake -B build` does not batch, so each file
# still has to compile on its own.
build() {
  local dir=$1 opt=$2
  shift 2
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNOD_WERROR=ON -DCMAKE_UNITY_BUILD=ON \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$opt -g1 -DNDEBUG" "$@"
  cmake --build "$dir" -j "$jobs"
}

# run_ctest DIR [ctest options...]: runs the tests, adds ctest's own counts to
# the totals, and returns ctest's status.
run_ctest() {
  local dir=$1
  shift
  local log status=0
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j2 "$@" 2>&1 | tee "$log" || status=$?
  # ctest ends with e.g. "95% tests passed, 1 tests failed out of 20".
  local counts
  counts=$(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1 || true)
  rm -f "$log"
  if [[ $counts =~ ^([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+)$ ]]; then
    failed=$((failed + BASH_REMATCH[1]))
    passed=$((passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
  fi
  return "$status"
}

# Number of tests carrying a ctest label in a configured build directory.
count_labelled() {
  ctest --test-dir "$1" -N -L "$2" | sed -n 's/^Total Tests: \([0-9]*\)$/\1/p'
}

step "a. dependencies (scripts/install-deps.sh)"
scripts/install-deps.sh
step_done

step "b. build/ (RelWithDebInfo, -Werror) and all tests"
build build -O2
run_ctest build --no-tests=error
step_done

# The installed package: cmake --install, then examples/embed, a separate
# project, finds it with find_package(synod) and runs.
step "b2. examples/embed against the installed synod (scripts/check-embed.sh)"
if SYNOD_BUILD_DIR=build scripts/check-embed.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  exit 1
fi
step_done

if [ "${SYNOD_TEST_SKIP_ASAN:-0}" = 1 ]; then
  step "c. build-asan/: skipped (SYNOD_TEST_SKIP_ASAN=1)"
else
  step "c. build-asan/ (address,undefined) and all tests but slow ones"
  build build-asan -O1 -DSYNOD_SANITIZE=address,undefined -DSYNOD_BENCHMARKS=OFF
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" run_ctest build-asan --no-tests=error -LE slow
  step_done
fi

readonly fuzz_cxx="${SYNOD_FUZZ_CXX:-clang++-16}"
if [ "${SYNOD_TEST_SKIP_FUZZ:-0}" = 1 ]; then
  step "d. build-fuzz/: skipped (SYNOD_TEST_SKIP_FUZZ=1)"
elif ! command -v "$fuzz_cxx" >/dev/null 2>&1; then
  step "d. build-fuzz/: skipped ($fuzz_cxx not found; scripts/install-deps.sh installs clang-16)"
else
  step "d. build-fuzz/ ($fuzz_cxx, SYNOD_FUZZ=ON) and the tests labelled fuzz"
  cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNOD_WERROR=ON -DCMAKE_CXX_COMPILER="$fuzz_cxx" \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
    -DSYNOD_FUZZ=ON -DSYNOD_BENCHMARKS=OFF -DSYNOD_TESTS=ON
  # Only the fuzzers are built (target synod_fuzz), not the whole tree: the
  # fuzz build uses libc++ (clang cannot compile libstdc++ 12's <expected>),
  # and Debian's ZeroMQ/spdlog/toml++ libraries are built for libstdc++.
  if [ "$(count_labelled build-fuzz fuzz)" = 0 ]; then
    echo "no tests labelled fuzz yet: nothing to build or run"
  else
    cmake --build build-fuzz -j "$jobs" --target synod_fuzz
    run_ctest build-fuzz --no-tests=error -L fuzz
  fi
  step_done
fi
