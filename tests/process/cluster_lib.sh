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
#   values KEY           the values of KEY in the JSON on stdin, one per line
#   small_checkpoints    checkpoint_interval 4, window 8 in DIR/cluster.toml, so
#                        a short test reaches stable checkpoints (and digests)
#   wait_settled N       polls `status --json` (bounded, about 20 s) until all
#                        N replicas are reachable with one last_executed, one
#                        stable_checkpoint (not 0) and one state_digest; leaves
#                        the last answer in JSON
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

values() { grep -o "\"$1\": [^,}]*" | sed 's/^[^:]*: //'; }

small_checkpoints() {
  sed -i 's/^checkpoint_interval = .*/checkpoint_interval = 4/; s/^window = .*/window = 8/' "$DIR/cluster.toml"
  grep -q '^checkpoint_interval = 4$' "$DIR/cluster.toml" || fail "cannot set checkpoint_interval in cluster.toml"
}

wait_settled() {
  local n=$1
  # A backup may execute a moment after the replies that completed a request,
  # and paxos followers learn the commit index from the next heartbeat.
  for _ in $(seq 1 100); do
    if JSON=$(CLI_TIMEOUT_MS=2000 cli status --json); then
      if [ "$(echo "$JSON" | values reachable | grep -c true)" = "$n" ] &&
         [ "$(echo "$JSON" | values last_executed | sort -u | wc -l)" = 1 ] &&
         [ "$(echo "$JSON" | values stable_checkpoint | sort -u)" != 0 ] &&
         [ "$(echo "$JSON" | values stable_checkpoint | sort -u | wc -l)" = 1 ] &&
         [ "$(echo "$JSON" | values state_digest | sort -u | wc -l)" = 1 ]; then
        return 0
      fi
    fi
    sleep 0.2
  done
  return 1
}
