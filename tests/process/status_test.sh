#!/usr/bin/env bash
# Process-level test of `synod-client status`: a real cluster started with
# synod-cluster; after some writes, `status --json` must report every replica
# reachable with the same last_executed and state_digest and exactly one
# primary/leader; with one replica killed, status exits 1 and reports it
# unreachable (and the table form says so too).
#
# usage: status_test.sh BIN_DIR pbft|paxos [curve]
# With `curve`, the cluster runs with CurveZMQ on every socket (init
# --curve); the test also checks that the CURVE secret keys are 0600 and
# that a replica refuses a group-readable one.
# Bounded: every wait has a limit; replicas are killed by pid on any exit.
set -euo pipefail
BIN=$1
PROTOCOL=$2
CURVE=${3:-}

source "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
CLI_TIMEOUT_MS=  # the tool's defaults (status gives up on a dead replica after 2 s)
cluster_dir synod-status
INIT_FLAGS=()
[ "$CURVE" = curve ] && INIT_FLAGS+=(--curve)
"$BIN/synod-cluster" init "$DIR" --protocol "$PROTOCOL" --clients 1 --base-port 0 "${INIT_FLAGS[@]}" >/dev/null
small_checkpoints
if [ "$CURVE" = curve ]; then
  grep -q '^curve = true$' "$DIR/cluster.toml" || fail "init --curve did not turn curve on"
  [ "$(grep -c '^curve_public_key = ' "$DIR/cluster.toml")" -ge 4 ] || [ "$PROTOCOL" = paxos ] ||
    fail "init --curve did not write the replicas' curve_public_key"
  [ "$(stat -c %a "$DIR/keys/replica-0.curve")" = 600 ] || fail "keys/replica-0.curve is not 0600"
  chmod 640 "$DIR/keys/replica-0.curve"
  if ERR=$("$BIN/synod-replica" --config "$DIR/cluster.toml" --id 0 --data "$DIR/refused" 2>&1); then
    fail "replica 0 started with a group-readable CURVE secret key"
  fi
  echo "$ERR" | grep -q 'group or others' || fail "no clear error for a group-readable CURVE key: $ERR"
  echo "$ERR" | grep -qF "$(tr -d '\n' < "$DIR/keys/replica-0.curve")" && fail "the CURVE secret key was printed"
  chmod 600 "$DIR/keys/replica-0.curve"
fi
"$BIN/synod-cluster" up "$DIR" >/dev/null || fail "cluster did not start"
N=$(ls "$DIR"/run/replica-*.pid | wc -l)
for i in $(seq 1 10); do cli --timeout-ms 20000 put "k$i" "v$i" >/dev/null || fail "put k$i"; done

settled=
wait_settled "$N" && settled=1
[ -n "$settled" ] || fail "replicas never all reachable with one last_executed/state_digest: $JSON"
[ "$(echo "$JSON" | values last_executed | head -1)" -ge 1 ] || fail "nothing executed: $JSON"
[ "$(echo "$JSON" | values role | grep -cE '"(primary|leader)"')" = 1 ] || fail "not exactly one primary/leader: $JSON"
[ "$(echo "$JSON" | values protocol | sort -u)" = "\"$PROTOCOL\"" ] || fail "wrong protocol: $JSON"

kill -9 "$(cat "$DIR/run/replica-1.pid")"
if JSON=$(cli --timeout-ms 1500 status --json); then fail "status exited 0 with replica 1 down"; fi
echo "$JSON" | grep -q '{"id": 1, "reachable": false}' || fail "replica 1 not reported unreachable: $JSON"
[ "$(echo "$JSON" | values reachable | grep -c true)" = $((N - 1)) ] || fail "others not reachable: $JSON"
TABLE=$(cli --timeout-ms 1500 status || true)
echo "$TABLE" | grep -qE '^1 +no$' || fail "table does not show replica 1 unreachable: $TABLE"
echo "PASS: $PROTOCOL status${CURVE:+ ($CURVE)}"
