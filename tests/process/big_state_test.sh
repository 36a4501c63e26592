#!/usr/bin/env bash
# Process-level test (tests/process): a replica that was down while the
# others went on gets back an application state several times larger than a
# frame. max_frame_bytes is 64 KiB here and the kv state about 200 KB, so the
# snapshot can only travel in chunks (snapshot_chunk_bytes, at most half a
# frame). A backup (pbft) or follower (paxos) is killed, the others write
# past several checkpoints (K = 4) and truncate their logs, and it is
# restarted: what it lacks is no longer in any log, so it must reach the
# others' state by state transfer (pbft) or a snapshot in catch-up (paxos),
# and count one. (paxos: the leader is restarted first, or the ACCEPTs
# ZeroMQ queued for the dead replica would bring it up to date alone.)
#
# usage: big_state_test.sh BIN_DIR pbft|paxos
# Bounded: a watchdog ends the test after WATCHDOG_S; every replica is
# killed by the pid in its pid file on any exit.
set -euo pipefail
BIN=$1
PROTOCOL=$2
WATCHDOG_S=${WATCHDOG_S:-120}
KEYS=${KEYS:-30}

source "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cluster_dir synod-big-state
watchdog "$WATCHDOG_S"
leader() { "$BIN/synod-cluster" ps "$DIR" | awk '$6 == "leader" { print $1 }' | head -1; }

"$BIN/synod-cluster" init "$DIR" --protocol "$PROTOCOL" --clients 2 --base-port 0 --no-fsync >/dev/null
small_checkpoints
sed -i 's/^max_frame_bytes = .*/max_frame_bytes = 65536/; s/^max_request_bytes = .*/max_request_bytes = 8192/;
        s/^batch_max_bytes = .*/batch_max_bytes = 32768/' "$DIR/cluster.toml"
grep -q '^max_frame_bytes = 65536$' "$DIR/cluster.toml" || fail "cannot set max_frame_bytes in cluster.toml"
"$BIN/synod-cluster" up "$DIR" >/dev/null || fail "cluster did not start"

cli put first one >/dev/null || fail "first put"
for _ in $(seq 1 50); do L=$(leader); [ -n "$L" ] && break; sleep 0.1; done
[ -n "$L" ] || fail "no replica reports itself primary/leader"
VICTIM=1
[ "$L" = 1 ] && VICTIM=2
kill -9 "$(cat "$DIR/run/replica-$VICTIM.pid")"
echo "killed replica $VICTIM (leader: $L)"

# About 6.5 KB per key: KEYS of them make a state several frames long.
PAD=$(head -c 6500 /dev/zero | tr '\0' x)
for i in $(seq 1 "$KEYS"); do
  cli put "key$i" "$i$PAD" >/dev/null || fail "put key$i"
done

if [ "$PROTOCOL" = paxos ]; then
  # ZeroMQ queued the leader's ACCEPTs for the dead replica; they would bring
  # it up to date without any catch-up. A restarted leader holds none.
  kill -9 "$(cat "$DIR/run/replica-$L.pid")"
  "$BIN/synod-cluster" up "$DIR" --id "$L" >/dev/null || fail "restart of replica $L"
  cli put between one >/dev/null || fail "put after the leader's restart"
fi
"$BIN/synod-cluster" up "$DIR" --id "$VICTIM" >/dev/null || fail "restart of replica $VICTIM"
N=$(ls "$DIR"/run/replica-*.pid | wc -l)
cli put last one >/dev/null || fail "put after the restart"
wait_settled "$N" || fail "replicas never all reachable with one last_executed/state_digest: $JSON"

# The restarted replica got the state by a snapshot, not by replaying a log
# the others no longer hold.
TRANSFERS=$(echo "$JSON" | tr '{' '\n' | grep "\"id\": $VICTIM," | values state_transfers)
[ "${TRANSFERS:-0}" -ge 1 ] || fail "replica $VICTIM reports no state transfer: $JSON"

# And it serves the state: with another replica down it is needed for a quorum.
OTHER=
for r in $(seq 0 9); do
  [ -f "$DIR/run/replica-$r.pid" ] || continue
  if [ "$r" != "$VICTIM" ] && [ "$r" != "$(leader)" ]; then OTHER=$r; break; fi
done
[ -n "$OTHER" ] || fail "no replica to kill"
kill -9 "$(cat "$DIR/run/replica-$OTHER.pid")"
for i in 1 "$KEYS"; do
  [ "$(cli get "key$i")" = "$i$PAD" ] || fail "key$i lost"
done
SIZE=$(du -sk "$DIR/data/replica-$VICTIM" | cut -f1)
echo "PASS: $PROTOCOL, replica $VICTIM rebuilt from $TRANSFERS snapshot transfer(s); its data directory holds ${SIZE} KiB"
