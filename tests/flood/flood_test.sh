#!/usr/bin/env bash
# Flood test: a 4-replica PBFT kv cluster on free loopback ports is flooded
# by synod-flood (garbage frames, forged envelopes with bad signatures, a
# greedy client sending valid requests without reading replies, from
# several sockets, to every replica) for FLOOD_SECONDS while a correct
# client keeps invoking. Passes when every replica's VmRSS stays at or
# under the bound and the correct client completes at least MIN requests.
#
# The load is fixed, FLOOD_RATE messages per second per flooder thread (5
# threads, each message to all 4 replicas: 5,000 hostile frames per second
# per replica at the default), so the test asks the same of a sanitized
# build on a busy CI machine as of a release build. `synod-flood --rate 0`
# floods flat out (see flood.cpp).
#
# The bound, 256 MiB per replica: a replica's steady state is tens of MiB
# (code, LMDB pages touched, the log window); its queues are bounded by the
# socket high-water marks (10000 frames in and out per socket, frames
# capped by max_frame_bytes; the flood's frames are at most 4 KiB), the
# per-client pending limit and the log window. Measured on a 2-core machine:
# 43-55 MiB under this flood, 13 MiB idle.
#
# usage: flood_test.sh BIN_DIR [curve]
# Bounded: every wait has a limit; replicas are killed by pid on any exit.
set -euo pipefail
BIN=$1
CURVE=${2:-}
FLOOD_SECONDS=${FLOOD_SECONDS:-15}
RSS_BOUND_MIB=${RSS_BOUND_MIB:-256}
MIN_COMPLETED=${MIN_COMPLETED:-20}
FLOOD_RATE=${FLOOD_RATE:-1000}

source "$(dirname "${BASH_SOURCE[0]}")/../process/cluster_lib.sh"
cluster_dir synod-flood

INIT_FLAGS=()
[ "$CURVE" = curve ] && INIT_FLAGS+=(--curve)
"$BIN/synod-cluster" init "$DIR" --protocol pbft --clients 2 --base-port 0 "${INIT_FLAGS[@]}" >/dev/null
"$BIN/synod-cluster" up "$DIR" --app kv >/dev/null || fail "cluster did not start"
cli put warm up >/dev/null || fail "warm-up put"
PIDS=()
for f in "$DIR"/run/replica-*.pid; do PIDS+=(--pid "$(cat "$f")"); done
timeout $((FLOOD_SECONDS + 60)) "$BIN/synod-flood" --config "$DIR/cluster.toml" "${PIDS[@]}" --client 0 \
  --flood-client 1 --seconds "$FLOOD_SECONDS" --rate "$FLOOD_RATE" --rss-bound-mib "$RSS_BOUND_MIB" --min-completed "$MIN_COMPLETED" ||
  fail "synod-flood"
# Still serving after the flood.
cli put after flood >/dev/null || fail "put after the flood"
echo "PASS: flood${CURVE:+ ($CURVE)}"
