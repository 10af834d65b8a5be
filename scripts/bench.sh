#!/usr/bin/env bash
# make bench: adaptd-bench against a local adaptd on the default model, and
# the same workloads in process (the raw engine baseline the ratios in
# docs/performance.md are taken against). Prints each run's report.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODELS=${MODELS:-models}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PORT=${PORT:-50061}
BENCH="$BUILD/client/bench/adaptd-bench"
GRPC="$BENCH --target=localhost:$PORT --warmup=$WARMUP --duration=$DURATION"
INPROC="$BENCH --mode=inprocess --model_repository=$MODELS --device=cpu --warmup=$WARMUP --duration=$DURATION"
# The glyph model, whatever else the repository holds. Its stepped method is
# META where it ships a meta-learner (make models keeps one only where it
# wins on meta-val), else FINETUNE.
BACKBONE=${BACKBONE:-glyphs-conv4}
GRPC="$GRPC --backbone=$BACKBONE"
INPROC="$INPROC --backbone=$BACKBONE"
STEPPED=finetune
[[ -f "$MODELS/$BACKBONE/meta_learner.pt" ]] && STEPPED=meta

METRICS_PORT=${METRICS_PORT:-50062}
"$BUILD/server/adaptd" --model_repository="$MODELS" --port="$PORT" --metrics_port="$METRICS_PORT" \
  --max_adapters=200000 2>/tmp/adaptd-bench-server.log &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  "$BUILD/client/adaptctl" --target="localhost:$PORT" health >/dev/null 2>&1 && break
  sleep 0.2
done

run() { echo; echo "### $*"; "$@"; }
# One value from a --json report on stdin: json_field throughput.
json_field() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(eval("r" + sys.argv[1]))' "$1"; }
# A metric from adaptd's /metrics, summed over its labels.
metric() {
  curl -s "localhost:$METRICS_PORT/metrics" |
    awk -v m="$1" '{n = $1; sub(/\{.*/, "", n)} n == m {s += $2} END {printf "%.0f\n", s}'
}

# SECTIONS=memory runs only the 100,000-adapter section (it needs the
# 1,000-adapter peak run first, for its p50).
SECTIONS=${SECTIONS:-all}
echo "### $GRPC --scenario=predict --adapters=1000 --concurrency=64"
PEAK_JSON=$($GRPC --scenario=predict --adapters=1000 --concurrency=64 --json)
PEAK=$(json_field '["throughput"]' <<<"$PEAK_JSON")
P50_1K=$(json_field '["latency_ms"]["p50"]' <<<"$PEAK_JSON")
echo "peak: $PEAK ok/s, p50 $P50_1K ms, p99 $(json_field '["latency_ms"]["p99"]' <<<"$PEAK_JSON") ms"
if [[ $SECTIONS == all ]]; then
run $INPROC --scenario=predict --adapters=1000 --concurrency=64
run $GRPC --scenario=predict --adapters=1000 --concurrency=1
run $GRPC --scenario=adapt --method="$STEPPED" --ways=5 --shots=5 --concurrency=1
run $INPROC --scenario=adapt --method="$STEPPED" --ways=5 --shots=5 --concurrency=1
run $GRPC --scenario=adapt --method=prototype --ways=5 --shots=5 --concurrency=1
run $GRPC --scenario=mix --adapt_fraction=0.05 --adapters=1000 --concurrency=64

# Open loop at half the closed-loop peak: the tail a steady load sees.
HALF=$(python3 -c "print(round($PEAK / 2))")
echo
echo "### $GRPC --scenario=predict --adapters=1000 --rate=$HALF (half of the peak)"
HALF_JSON=$($GRPC --scenario=predict --adapters=1000 --rate="$HALF" --json)
python3 - "$HALF_JSON" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
l = r["latency_ms"]
print(f"rate {r['rate']:.0f}/s: {r['throughput']:.0f} ok/s, p50 {l['p50']:.2f} ms, "
      f"p99 {l['p99']:.2f} ms, p99/p50 {l['p99'] / l['p50']:.2f}, errors {r['errors']}, "
      f"skipped {r['skipped']}")
PY
fi

# 100,000 adapters held: resident memory against their tensor bytes, and
# Predict over all of them against the 1,000-adapter p50 above.
ADAPTERS=${ADAPTERS:-100000}
RSS_BEFORE=$(metric process_resident_memory_bytes)
HELD_BEFORE=$(metric adaptd_adapters)
echo
echo "### $GRPC --scenario=predict --adapters=$ADAPTERS --concurrency=64 --cleanup=false"
BIG_JSON=$($GRPC --scenario=predict --adapters="$ADAPTERS" --concurrency=64 --cleanup=false --json)
RSS_AFTER=$(metric process_resident_memory_bytes)
HELD=$(( $(metric adaptd_adapters) - HELD_BEFORE ))
ACCOUNTED=$(metric adaptd_adapter_memory_bytes)
DIM=$(awk '/^feature_dim:/ {print $2; exit}' "$(ls -d "$MODELS"/*/ | head -1)model.pbtxt")
python3 - "$BIG_JSON" "$RSS_BEFORE" "$RSS_AFTER" "$HELD" "$ACCOUNTED" "$DIM" "$P50_1K" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
before, after, held, accounted, dim, p50_1k = map(float, sys.argv[2:])
ways = r["ways"]
tensor = ways * (dim + 1) * 4  # float32 weight [ways, dim] and bias [ways].
per = (after - before) / held
budget = 1.2 * tensor + 1024
print(f"adapters held: {held:.0f} ({ways}-way heads on {dim:.0f}-d features: {tensor:.0f} tensor bytes each)")
print(f"resident memory: +{(after - before) / 2**20:.1f} MiB = {per:.0f} bytes per adapter; "
      f"budget 1.2 x tensor + 1 KiB = {budget:.0f} ({per / budget:.2f} of it)")
print(f"adaptd_adapter_memory_bytes: {accounted / held:.0f} bytes per adapter")
l = r["latency_ms"]
print(f"Predict over {held:.0f} adapters: {r['throughput']:.0f} ok/s, p50 {l['p50']:.2f} ms "
      f"(1,000 adapters: {p50_1k:.2f} ms), p99 {l['p99']:.2f} ms")
PY
