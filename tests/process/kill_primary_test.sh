#!/usr/bin/env bash
# Process-level fault test (tests/process): a real cluster on loopback,
# started with synod-cluster, written to with synod-client while its primary
# (pbft) / leader (paxos) is killed with SIGKILL and later restarted. Checks
# that every acknowledged write is readable afterwards, also once another
# replica is killed so that the restarted one must take part in the quorum
# (it must have recovered its durable state and caught up).
#
# usage: kill_primary_test.sh BIN_DIR pbft|paxos
# Bounded: a watchdog ends the test after WATCHDOG_S; every replica is
# killed by the pid in its pid file on any exit.
set -euo pipefail
BIN=$1
PROTOCOL=$2
WATCHDOG_S=${WATCHDOG_S:-150}
WRITES=${WRITES:-40}

source "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cluster_dir synod-process
watchdog "$WATCHDOG_S"
leader() { "$BIN/synod-cluster" ps "$DIR" | awk '$6 == "leader" { print $1 }' | head -1; }

"$BIN/synod-cluster" init "$DIR" --protocol "$PROTOCOL" --clients 2 --base-port 0 >/dev/null
small_checkpoints
"$BIN/synod-cluster" up "$DIR" >/dev/null || fail "cluster did not start"

cli put first one >/dev/null || fail "first put"
[ "$(cli get first)" = one ] || fail "get after put"
if cli get absent 2>/dev/null; then fail "get of an absent key succeeded"; fi

# Wait (bounded) for a replica to report itself leader in status.json.
for _ in $(seq 1 50); do L=$(leader); [ -n "$L" ] && break; sleep 0.1; done
[ -n "$L" ] || fail "no replica reports itself primary/leader"
echo "leader before the kill: replica $L"

# Sequential writes; only acknowledged ones are recorded.
: > "$DIR/acked"
(
  for i in $(seq 1 "$WRITES"); do
    if cli --client 1 put "key$i" "value$i" >/dev/null 2>&1; then echo "key$i" >> "$DIR/acked"; fi
  done
) &
WRITER=$!
CLEANUP_PIDS+=("$WRITER")

# Kill the leader once a few writes are acknowledged.
for _ in $(seq 1 100); do [ "$(wc -l < "$DIR/acked")" -ge 5 ] && break; sleep 0.1; done
kill -9 "$(cat "$DIR/run/replica-$L.pid")"
echo "killed replica $L after $(wc -l < "$DIR/acked") acknowledged writes"
sleep 3
"$BIN/synod-cluster" up "$DIR" --id "$L" >/dev/null || fail "restart of replica $L"
wait "$WRITER" || true
ACKED=$(wc -l < "$DIR/acked")
echo "$ACKED of $WRITES writes acknowledged"
[ "$ACKED" -ge $((WRITES / 2)) ] || fail "too few writes acknowledged across the failover ($ACKED)"

# Now make the restarted replica necessary: kill another one that is not
# the current leader (f = 1, so the cluster must answer with the rest).
sleep 2
NOW=$(leader)
OTHER=
for r in $(seq 0 9); do
  [ -f "$DIR/run/replica-$r.pid" ] || continue
  if [ "$r" != "$L" ] && [ "$r" != "$NOW" ]; then OTHER=$r; break; fi
done
[ -n "$OTHER" ] || fail "no replica to kill"
kill -9 "$(cat "$DIR/run/replica-$OTHER.pid")"
echo "killed replica $OTHER; reading every acknowledged write"

while read -r key; do
  got=$(cli get "$key") || fail "get $key"
  [ "$got" = "value${key#key}" ] || fail "$key = '$got', expected 'value${key#key}'"
done < "$DIR/acked"
[ "$(cli get first)" = one ] || fail "first write lost"

# Everyone back: every replica reports the same state.
"$BIN/synod-cluster" up "$DIR" --id "$OTHER" >/dev/null || fail "restart of replica $OTHER"
N=$(ls "$DIR"/run/replica-*.pid | wc -l)
cli put last one >/dev/null || fail "put after the restarts"
wait_settled "$N" || fail "replicas never all reachable with one last_executed/state_digest: $JSON"
echo "PASS: $PROTOCOL, $ACKED acknowledged writes all readable, $N replicas at digest $(echo "$JSON" | values state_digest | head -1)"
