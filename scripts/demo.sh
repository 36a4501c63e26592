#!/usr/bin/env bash
# synod's main job on a fresh machine: install, build, and run a local
# cluster demo — a temporary 4-replica PBFT cluster (3 for paxos) with the kv
# app under load from concurrent clients; the primary is killed with SIGKILL,
# the cluster changes view and keeps serving, the old primary restarts and
# catches up; then a summary, and everything is cleaned up.
#   scripts/demo.sh [pbft|paxos]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

protocol=${1:-pbft}
case "$protocol" in
  pbft|paxos) ;;
  *) echo "usage: scripts/demo.sh [pbft|paxos]" >&2; exit 2 ;;
esac

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j "$(nproc)" --target synod-replica synod-client synod-cluster

exec build/bin/synod-cluster demo --protocol "$protocol"
