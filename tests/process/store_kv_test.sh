#!/usr/bin/env bash
# Process-level test (tests/process): a cluster running `--app kv-store`, the
# kv example on the store-backed interface (synod/store.hpp), whose state
# lives in each replica's LMDB environment beside the core's durable state.
#  1. Restart from the replica's own store: a follower is killed with
#     SIGKILL, the others write past several checkpoints (K = 4), and it is
#     restarted on the same data dir. It must start from what it had stored
#     (its start-up line counts the durable records it loaded: not 0) and
#     end with every replica at one last_executed and one state digest.
#     Restarting it with another --app (kv) is refused first.
#  2. State transfer into a wiped store: another follower is killed, its data
#     dir removed, and it is restarted empty (0 durable records). Once the
#     others have moved on by more checkpoints it must count a state transfer
#     (the tree walk of transfer/state_sync.hpp), reach the same digest, and
#     serve the state: with one more replica down (pbft) it is needed for
#     every quorum, and old keys must still read back.
#
# usage: store_kv_test.sh BIN_DIR pbft|paxos
# Bounded: a watchdog ends the test after WATCHDOG_S; every replica is killed
# by the pid in its pid file on any exit.
set -euo pipefail
BIN=$1
PROTOCOL=$2
WATCHDOG_S=${WATCHDOG_S:-90}
PUTS=${PUTS:-24}  # per phase: at K = 4, one batch per put, six checkpoints

source "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cluster_dir synod-store-kv
watchdog "$WATCHDOG_S"
leader() { "$BIN/synod-cluster" ps "$DIR" | awk '$6 == "leader" { print $1 }' | head -1; }
up() { "$BIN/synod-cluster" up "$DIR" --app kv-store "$@" >/dev/null; }
# The durable-record count on the LAST start-up line of replica $1's log.
records_at_start() {
  grep 'durable records)$' "$DIR/logs/replica-$1.log" | tail -1 | sed 's/.* \([0-9]*\) durable records)$/\1/'
}
starts() { grep -c 'durable records)$' "$DIR/logs/replica-$1.log" || true; }
transfers_of() { echo "$JSON" | tr '{' '\n' | grep "\"id\": $1," | values state_transfers; }
put_range() {
  for i in $(seq "$1" "$2"); do cli put "key$i" "value$i" >/dev/null || fail "put key$i"; done
}
# A running replica other than the leader (as status.json last said) and
# the replicas named; the highest id, since synod-client tries replicas from
# 0 up and a paxos request waits out each dead one before the next.
follower() {
  local now
  now=$(leader)
  [ -n "$now" ] || return 1
  for r in $(seq 9 -1 0); do
    [ -f "$DIR/run/replica-$r.pid" ] || continue
    [ "$r" = "$now" ] && continue
    case " $* " in *" $r "*) continue ;; esac
    echo "$r"
    return 0
  done
  return 1
}

"$BIN/synod-cluster" init "$DIR" --protocol "$PROTOCOL" --clients 1 --base-port 0 --no-fsync >/dev/null
small_checkpoints
up || fail "cluster did not start"
N=$(ls "$DIR"/run/replica-*.pid | wc -l)
grep -q '(app kv-store,' "$DIR/logs/replica-0.log" || fail "replica 0 does not run kv-store"

put_range 1 8
for _ in $(seq 1 50); do L=$(leader); [ -n "$L" ] && break; sleep 0.1; done
[ -n "$L" ] || fail "no replica reports itself primary/leader"

# -- 1. kill -9 and restart on the same data dir
VICTIM=$(follower) || fail "no follower to kill"
kill -9 "$(cat "$DIR/run/replica-$VICTIM.pid")"
echo "killed replica $VICTIM (leader: $L)"
put_range 9 $((8 + PUTS))
# Its data dir holds a store, not a whole-state kv: another --app is refused.
if "$BIN/synod-cluster" up "$DIR" --id "$VICTIM" --app kv >/dev/null 2>&1; then
  fail "replica $VICTIM restarted as --app kv on a kv-store data dir"
fi
grep -q 'holds the state of --app kv-store, not --app kv' "$DIR/logs/replica-$VICTIM.log" ||
  fail "no clear error for the wrong --app"
up --id "$VICTIM" || fail "restart of replica $VICTIM"
[ "$(starts "$VICTIM")" = 2 ] || fail "replica $VICTIM: expected two start-up lines"
RECORDS=$(records_at_start "$VICTIM") || fail "replica $VICTIM: no start-up line"
[ "${RECORDS:-0}" -gt 0 ] || fail "replica $VICTIM restarted with $RECORDS durable records: not its own data dir"
[ -f "$DIR/data/replica-$VICTIM/data.mdb" ] || fail "replica $VICTIM: no data.mdb"
put_range $((9 + PUTS)) $((12 + PUTS))
wait_settled "$N" || fail "phase 1: replicas never all reachable with one last_executed/state_digest: $JSON"
DIGEST1=$(echo "$JSON" | values state_digest | head -1)
EXECUTED1=$(echo "$JSON" | values last_executed | head -1)
[ "$(cli get key1)" = value1 ] || fail "key1 lost after the restart"
echo "phase 1: replica $VICTIM resumed from $RECORDS durable records; all at last executed $EXECUTED1, digest $DIGEST1"

# -- 2. a wiped data dir: the store comes back by state transfer
WIPED=$(follower "$VICTIM") || fail "no second follower to wipe"
kill -9 "$(cat "$DIR/run/replica-$WIPED.pid")"
rm -rf "$DIR/data/replica-$WIPED"
echo "killed replica $WIPED and removed its data dir"
FIRST=$((13 + PUTS))
put_range "$FIRST" $((FIRST + PUTS / 2 - 1))
up --id "$WIPED" || fail "restart of replica $WIPED"
RECORDS=$(records_at_start "$WIPED") || fail "replica $WIPED: no start-up line"
[ "$RECORDS" = 0 ] || fail "replica $WIPED restarted with $RECORDS durable records from a wiped data dir"
# More checkpoints after its restart: certified states it can fetch.
LAST=$((FIRST + PUTS))
put_range $((FIRST + PUTS / 2)) "$LAST"
wait_settled "$N" || fail "phase 2: replicas never all reachable with one last_executed/state_digest: $JSON"
TRANSFERS=$(transfers_of "$WIPED")
[ "${TRANSFERS:-0}" -ge 1 ] || fail "replica $WIPED reports no state transfer: $JSON"
DIGEST2=$(echo "$JSON" | values state_digest | head -1)

# It serves what it fetched: with another follower down, pbft needs it in
# every quorum of 2f+1 (paxos: it is the leader's only majority partner).
OTHER=$(follower "$WIPED") || fail "no replica left to kill"
kill -9 "$(cat "$DIR/run/replica-$OTHER.pid")"
for i in 1 "$FIRST" "$LAST"; do
  [ "$(cli get "key$i")" = "value$i" ] || fail "key$i does not read back with replica $OTHER down"
done
cli put after wipe >/dev/null || fail "put with replica $OTHER down"
SIZE=$(du -sk "$DIR/data/replica-$WIPED" | cut -f1)
echo "PASS: $PROTOCOL kv-store: replica $VICTIM resumed from its store; replica $WIPED rebuilt by" \
     "$TRANSFERS state transfer(s) (data dir ${SIZE} KiB), digest $DIGEST2"
