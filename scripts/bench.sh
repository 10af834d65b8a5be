#!/usr/bin/env bash
# make bench: adaptd-bench against a local adaptd on the default model, and
# the same workloads in process (the raw engine baseline the ratios in
# docs/benchmarks.md are taken against). Prints each run's report.
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

"$BUILD/server/adaptd" --model_repository="$MODELS" --port="$PORT" --metrics_port=-1 \
  --max_adapters=200000 2>/tmp/adaptd-bench-server.log &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  "$BUILD/client/adaptctl" --target="localhost:$PORT" health >/dev/null 2>&1 && break
  sleep 0.2
done

run() { echo; echo "### $*"; "$@"; }
run $GRPC --scenario=predict --adapters=1000 --concurrency=64
run $INPROC --scenario=predict --adapters=1000 --concurrency=64
run $GRPC --scenario=predict --adapters=1000 --concurrency=1
run $GRPC --scenario=adapt --method=meta --ways=5 --shots=5 --concurrency=1
run $INPROC --scenario=adapt --method=meta --ways=5 --shots=5 --concurrency=1
run $GRPC --scenario=adapt --method=prototype --ways=5 --shots=5 --concurrency=1
run $GRPC --scenario=mix --adapt_fraction=0.05 --adapters=1000 --concurrency=64
