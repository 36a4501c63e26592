# tests/process/cluster_lib.sh — sourced by the process-level test scripts
# (tests/process, tests/fault, tests/flood), which set BIN (the build's bin
# folder) first. It gives them:
#   cluster_dir PREFIX   DIR=/tmp/PREFIX-XXXXXX; on any exit every replica
#                        started under it is stopped (synod-cluster down,
#                        then SIGKILL by pid file), every pid in CLEANUP_PIDS
#                        is killed, and DIR is removed
#   watchdog SECONDS     ends the test with a failure after SECONDS
#   fail MESSAGE...      prints it and the tail of every replica log; exit 1
#   cli ARGS...          synod-client against DIR/cluster.toml, giving up after
#                        CLI_TIMEOUT_MS (default 20000; empty: the tool's defaults)
CLEANUP_PIDS=()

cluster_cleanup() {
  "$BIN/synod-cluster" down "$DIR" >/dev/null 2>&1 || true
  for f in "$DIR"/run/*.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  for pid in "${CLEANUP_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$DIR"
}

cluster_dir() {
  DIR=$(mktemp -d "/tmp/$1-XXXXXX")
  trap cluster_cleanup EXIT
}

watchdog() {
  local seconds=$1
  # shellcheck disable=SC2064  # the limit is fixed now
  trap "echo 'FAIL: watchdog: test ran over ${seconds}s' >&2; exit 1" TERM
  # The watchdog kills its own sleep when stopped, and holds no pipe ctest reads.
  (
    trap 'kill "$SLEEPER" 2>/dev/null; exit 0' TERM
    sleep "$seconds" &
    SLEEPER=$!
    wait "$SLEEPER"
    kill -TERM $$
  ) >/dev/null 2>&1 &
  CLEANUP_PIDS+=("$!")
}

fail() {
  echo "FAIL: $*" >&2
  for log in "$DIR"/logs/*.log; do
    [ -f "$log" ] || continue
    echo "--- $log" >&2
    tail -5 "$log" >&2 || true
  done
  exit 1
}

cli() {
  local timeout=${CLI_TIMEOUT_MS-20000}
  "$BIN/synod-client" --config "$DIR/cluster.toml" ${timeout:+--timeout-ms "$timeout"} "$@"
}
