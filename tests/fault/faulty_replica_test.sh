#!/usr/bin/env bash
# Process-level test of `synod-replica --fault MODE`: a 4-replica pbft
# cluster on loopback whose replica FAULTY runs MODE (e.g. equivocate as the
# primary of view 0) still serves writes; every acknowledged write is
# readable afterwards, and the correct replicas end with equal state
# digests (`synod-client status --json`). Also checks that the flag is
# refused (one line, non-zero exit) while the config does not set
# allow_fault_injection = true.
#
# usage: faulty_replica_test.sh BIN_DIR MODE FAULTY_ID
# Bounded: a watchdog ends the test after WATCHDOG_S; every replica is
# killed by the pid in its pid file on any exit.
set -euo pipefail
BIN=$1
MODE=$2
FAULTY=$3
WATCHDOG_S=${WATCHDOG_S:-90}
WRITES=${WRITES:-30}

source "$(dirname "${BASH_SOURCE[0]}")/../process/cluster_lib.sh"
cluster_dir synod-fault
watchdog "$WATCHDOG_S"

"$BIN/synod-cluster" init "$DIR" --protocol pbft --clients 2 --base-port 0 >/dev/null
mkdir -p "$DIR/logs" "$DIR/run"

# Refused while the config does not allow fault injection: one line, exit != 0.
grep -q '^allow_fault_injection = false$' "$DIR/cluster.toml" || fail "cluster.toml lacks allow_fault_injection = false"
if "$BIN/synod-replica" --config "$DIR/cluster.toml" --id "$FAULTY" --fault "$MODE" --data "$DIR/refused" \
    2> "$DIR/refused.err" >/dev/null; then
  fail "--fault $MODE ran without allow_fault_injection"
fi
[ "$(wc -l < "$DIR/refused.err")" = 1 ] || fail "refusal is not one line: $(cat "$DIR/refused.err")"
grep -q allow_fault_injection "$DIR/refused.err" || fail "refusal does not name allow_fault_injection"

# Small checkpoint interval, so the digests compared below cover the writes.
sed -i -e 's/^allow_fault_injection = false$/allow_fault_injection = true/' \
       -e 's/^checkpoint_interval = .*/checkpoint_interval = 8/' -e 's/^window = .*/window = 16/' "$DIR/cluster.toml"

"$BIN/synod-replica" --config "$DIR/cluster.toml" --id "$FAULTY" --fault "$MODE" --log-level warn \
  > "$DIR/logs/replica-$FAULTY.log" 2>&1 &
echo $! > "$DIR/run/replica-$FAULTY.pid"
for r in 0 1 2 3; do
  [ "$r" = "$FAULTY" ] && continue
  "$BIN/synod-cluster" up "$DIR" --id "$r" >/dev/null || fail "replica $r did not start"
done

# Sequential writes from two clients; only acknowledged ones are recorded.
: > "$DIR/acked"
writer() {
  local client=$1
  for i in $(seq "$client" 2 $((WRITES - 1))); do
    if cli --client "$client" put "key$i" "value$i" >/dev/null 2>&1; then echo "key$i" >> "$DIR/acked"; fi
  done
}
writer 0 & W0=$!
writer 1 & W1=$!
wait "$W0" "$W1" || true
ACKED=$(wc -l < "$DIR/acked")
echo "$ACKED of $WRITES writes acknowledged with replica $FAULTY running --fault $MODE"
[ "$ACKED" = "$WRITES" ] || fail "only $ACKED of $WRITES writes acknowledged"
kill -0 "$(cat "$DIR/run/replica-$FAULTY.pid")" || fail "the faulty replica exited"

while read -r key; do
  got=$(cli get "$key") || fail "get $key"
  [ "$got" = "value${key#key}" ] || fail "$key = '$got', expected 'value${key#key}'"
done < "$DIR/acked"

# The correct replicas: same stable checkpoint (past the first) and digest.
CORRECT=$(for r in 0 1 2 3; do [ "$r" = "$FAULTY" ] || echo "$r"; done)
settled=
for _ in $(seq 1 100); do
  JSON=$(CLI_TIMEOUT_MS=2000 cli status --json || true)
  # One line per replica: id stable_checkpoint state_digest.
  ROWS=$(echo "$JSON" | tr '{' '\n' | grep '"stable_checkpoint"' | while read -r row; do
    echo "$(echo "$row" | values id) $(echo "$row" | values stable_checkpoint) $(echo "$row" | values state_digest)"
  done || true)
  SEEN=$(for r in $CORRECT; do echo "$ROWS" | awk -v r="$r" '$1 == r { print $2, $3 }'; done | sort -u)
  if [ "$(echo "$SEEN" | grep -c .)" = 1 ] && [ "$(echo "$SEEN" | awk '{ print $1 }')" -ge 8 ] &&
     [ "$(echo "$ROWS" | grep -c .)" -ge 3 ]; then
    settled=1
    break
  fi
  # A correct replica behind on a checkpoint catches up on the next one.
  cli --client 0 put "tick" "x" >/dev/null 2>&1 || true
  sleep 0.2
done
[ -n "$settled" ] || fail "correct replicas did not reach equal state digests: $ROWS"
echo "correct replicas $(echo $CORRECT) agree: stable checkpoint and digest $SEEN"
echo "PASS: --fault $MODE on replica $FAULTY"
