#!/usr/bin/env bash
# Checks that an installed synod can be embedded: builds synod (reusing the
# build dir when it exists), installs it to a temp prefix, then configures,
# builds and runs examples/embed — a separate CMake project that finds synod
# with find_package(synod) only. Exits non-zero on the first failure.
#   scripts/check-embed.sh            uses ./build
#   SYNOD_BUILD_DIR=/tmp/b scripts/check-embed.sh
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
build="${SYNOD_BUILD_DIR:-$repo/build}"
jobs="${SYNOD_JOBS:-2}"
work="$(mktemp -d "${TMPDIR:-/tmp}/synod-check-embed.XXXXXX")"
trap 'rm -rf "$work"' EXIT

step() { echo "check-embed: $*"; }
die() { echo "check-embed: FAILED: $*" >&2; exit 1; }

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  step "configuring $build"
  cmake -S "$repo" -B "$build" >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; die "configuring synod"; }
fi
# Only what the install step copies: the libraries and the four tools.
step "building synod in $build"
cmake --build "$build" -j"$jobs" --target synod_runtime synod_client synod-replica synod-cluster synod-client \
  synod-keygen >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; die "building synod"; }

step "installing to $work/prefix"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; die "cmake --install"; }
[[ -f "$work/prefix/lib/cmake/synod/synodConfig.cmake" ]] || die "no synodConfig.cmake in the install"

step "configuring and building examples/embed against the install"
cmake -S "$repo/examples/embed" -B "$work/embed" -DCMAKE_PREFIX_PATH="$work/prefix" \
  >"$work/embed-configure.log" 2>&1 || { cat "$work/embed-configure.log" >&2; die "configuring examples/embed"; }
cmake --build "$work/embed" -j"$jobs" >"$work/embed-build.log" 2>&1 ||
  { tail -n 40 "$work/embed-build.log" >&2; die "building examples/embed"; }

step "running the embed example"
timeout 120 "$work/embed/embed" || die "examples/embed exited with status $?"
step "ok"
