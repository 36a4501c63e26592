#!/usr/bin/env bash
# synod's main job on a fresh machine: install, build, and run a simulated
# PBFT cluster (4 replicas, one of them Byzantine, clients, a lossy network,
# crashes) — first one run narrated event by event, then many runs judged by
# the safety and liveness checkers.
# (Once the runtime lands, this becomes a real local cluster demo.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j "$(nproc)" --target synod-sim

sim=build/bin/synod-sim
seed=${SYNOD_DEMO_SEED:-42}

echo
echo "== One simulated run (seed $seed): the first and last events =="
trace=$(mktemp)
trap 'rm -f "$trace"' EXIT
"$sim" --first-seed "$seed" --seeds 1 --f 1 --trace > "$trace" || true
head -n 25 "$trace"
echo "   ..."
tail -n 8 "$trace"

echo
echo "== 500 seeded runs with every fault class, checked for safety and liveness =="
"$sim" --seeds 500 --jobs "$(nproc)"
