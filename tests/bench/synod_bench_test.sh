#!/usr/bin/env bash
# synod-bench end to end, briefly: pbft f=1 (real synod-replica processes,
# batch size read from their /metrics) and the unreplicated baseline, with
# signatures and with MAC authenticators, one small point each. Checks the JSON is well-formed with nonzero throughput
# and a batch size for every point, and that --plot renders a PNG (skipped,
# with a message, when gnuplot is not installed).
# Usage: synod_bench_test.sh BIN_DIR
set -euo pipefail
bin=${1:?usage: synod_bench_test.sh BIN_DIR}
work=$(mktemp -d /tmp/synod-bench-test-XXXXXX)
trap 'rm -rf "$work"' EXIT

plot_args=()
if command -v gnuplot >/dev/null 2>&1; then
  plot_args=(--plot "$work/plot.png")
else
  echo "synod_bench_test: gnuplot not installed (Debian gnuplot-nox): skipping the --plot check"
fi

# synod-bench bounds itself (30 s to get a first answer, a 10 s client
# timeout per request) and stops every process it started by pid.
timeout 150 "$bin/synod-bench" --protocol pbft --unreplicated --auth signatures,macs --f 1 --payload 128/128 --outstanding 2 \
  --duration 1.5 --warmup 0.5 --json --json-file "$work/out.json" "${plot_args[@]}" > "$work/stdout.json"

python3 - "$work/out.json" "$work/stdout.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    with open(path) as f:
        doc = json.load(f)
    results = doc["results"]
    modes = sorted((r["mode"], r["authentication"]) for r in results)
    assert modes == [("pbft", "macs"), ("pbft", "signatures"), ("unreplicated", "macs"),
                     ("unreplicated", "signatures")], f"{path}: configurations {modes}"
    assert doc["verify_us"] > 0 and doc["sign_us"] > 0, f"{path}: no crypto speed"
    assert doc["round_trip_us"] > 0, f"{path}: no transport round trip"
    for r in results:
        assert r["ops"] > 0 and r["ops_per_sec"] > 0, f"{path}: no throughput in {r}"
        assert r["request_bytes"] == 128 and r["reply_bytes"] == 128, r
        lat = r["latency_us"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"], f"{path}: percentiles {lat}"
        # Read from the first server's /metrics before and after the point:
        # the executed-request and batch counters moved.
        assert r["batch_size"] is not None and r["batch_size"] >= 1, f"{path}: batch size {r['batch_size']}"
        assert r["server_cpu_us_per_op"] is not None and r["server_cpu_us_per_op"] > 0, r
        assert r["verify_rate_ceiling_ops_per_sec"] > 0, r
        # Normal-path hops x half a round trip: pbft 5, the baseline 2.
        hops = {"pbft": 5, "unreplicated": 2}[r["mode"]]
        assert abs(r["latency_floor_us"] - hops * doc["round_trip_us"] / 2) < 0.1, r
print("synod_bench_test: JSON ok:", ", ".join(
    f"{r['configuration']} {r['ops_per_sec']:.0f} ops/s p50 {r['latency_us']['p50']:.0f} us batch {r['batch_size']}"
    for r in results))
PY

if [ ${#plot_args[@]} -gt 0 ]; then
  [ -s "$work/plot.png" ] || { echo "synod_bench_test: --plot wrote no PNG" >&2; exit 1; }
  # PNG signature: \x89 P N G
  [ "$(head -c 4 "$work/plot.png" | od -An -tx1 | tr -d ' \n')" = "89504e47" ] ||
    { echo "synod_bench_test: $work/plot.png is not a PNG" >&2; exit 1; }
  echo "synod_bench_test: plot ok ($(stat -c %s "$work/plot.png") bytes)"
fi

# Errors are one line and non-zero.
if "$bin/synod-bench" --payload 12/x >/dev/null 2>"$work/err"; then
  echo "synod_bench_test: a bad --payload was accepted" >&2; exit 1
fi
grep -q "bad size" "$work/err" || { echo "synod_bench_test: unexpected error: $(cat "$work/err")" >&2; exit 1; }
echo "synod_bench_test: ok"
