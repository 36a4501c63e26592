#!/usr/bin/env bash
# synod-bench --app kv-store --state-bytes, briefly (pbft f=1, MACs, no
# fsync, a 4 MiB genesis state of 4096 keys): the JSON has a point on the
# kv-store app and a "state" entry whose figures are sane — the genesis keys,
# the loop's longest pause, replica RSS, a catch-up of a restarted follower
# that moved some bytes but fewer than the state, a whole transfer of at
# least the state's values into a wiped one, and a restart time.
# Usage: synod_bench_state_test.sh BIN_DIR
set -euo pipefail
bin=${1:?usage: synod_bench_state_test.sh BIN_DIR}
work=$(mktemp -d /tmp/synod-bench-state-test-XXXXXX)
trap 'rm -rf "$work"' EXIT

# synod-bench bounds each wait itself and stops every process it started by pid.
timeout 120 "$bin/synod-bench" --app kv-store --state-bytes 4M --protocol pbft --auth macs --no-fsync \
  --payload 0/0 --outstanding 4 --duration 1 --warmup 0.5 --json > "$work/out.json"

python3 - "$work/out.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
state_bytes = 4 << 20
points = doc["results"]
assert len(points) == 1, points
p = points[0]
assert p["app"] == "kv-store" and p["state_bytes"] == state_bytes, p
assert p["ops"] > 0 and p["errors"] == 0, p
assert p["max_iteration_us"] is not None and p["max_iteration_us"] > 0, p
assert p["max_input_us"] is not None and 0 < p["max_input_us"] <= p["max_iteration_us"], p
assert doc["loopback_mb_per_s"] > 0, doc
(s,) = doc["state"]
assert s["state_bytes"] == state_bytes and s["keys"] == state_bytes // 1024, s
assert len(s["genesis_root"]) == 64 and s["genesis_root"] != "0" * 64, s
assert s["data_file_bytes"] >= state_bytes, s
assert s["best_ops_per_sec"] > 0 and s["max_iteration_us"] > 0, s
assert 0 < s["rss_anon_max_bytes"] <= s["rss_max_bytes"], s
c = s["catch_up"]
moved = c["all_bytes_received"]
assert c["transfer_bytes"] + c["other_bytes"] <= moved, c
assert c["updated_keys"] == 40 and c["seconds"] is not None and c["seconds"] > 0, c
assert 0 < moved < state_bytes, f"catch-up moved {moved} bytes of a {state_bytes}-byte state: {c}"
t = s["full_transfer"]
assert t["seconds"] is not None and t["seconds"] > 0, t
assert t["transfer_bytes"] >= state_bytes, f"a wiped replica fetched only {t['transfer_bytes']} bytes: {t}"
assert t["mb_per_s"] > 0, t
assert s["restart_s"] is not None and 0 < s["restart_s"] < 30, s
print(f"synod_bench_state_test: ok: {p['ops_per_sec']:.0f} ops/s, longest iteration {s['max_iteration_us']} us, "
      f"catch-up {moved} B in {c['seconds']} s, full {t['transfer_bytes']} B at {t['mb_per_s']} MB/s, "
      f"restart {s['restart_s']} s")
PY

# --state-bytes without the store-backed app is refused in one line.
if "$bin/synod-bench" --state-bytes 4M >/dev/null 2>"$work/err"; then
  echo "synod_bench_state_test: --state-bytes without --app kv-store was accepted" >&2; exit 1
fi
grep -q "needs --app kv-store" "$work/err" || { echo "synod_bench_state_test: unexpected error: $(cat "$work/err")" >&2; exit 1; }
echo "synod_bench_state_test: ok"
