#!/usr/bin/env bash
# scripts/local_stack.sh end to end: start adaptd (on an empty model
# repository), redis-server and Prometheus on free loopback ports; ask
# Prometheus's HTTP API until it has adaptd's series, the recording rules
# evaluate on them and no rule is unhealthy; then stop everything and check
# nothing is left running. Then the same with REPLICAS=2: two adaptd
# replicas on the stack's Redis behind one balancer address, both scraped,
# connections spread over both, and calls still answered with one replica
# killed.
#
# Needs: adaptd and adaptctl ($ADAPTD, $ADAPTCTL; by default under $BUILD,
# which defaults to ./build), and Debian's prometheus and redis-server. Exits 77 (ctest SKIP)
# when prometheus or promtool is missing; a missing redis-server is a failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
ADAPTD=${ADAPTD:-$BUILD/server/adaptd}
ADAPTCTL=${ADAPTCTL:-$BUILD/client/adaptctl}
STACK=$ROOT/scripts/local_stack.sh
TIMEOUT=${TEST_TIMEOUT:-40}  # seconds for Prometheus to show each expected series

fail() { echo "FAIL: $*" >&2; exit 1; }

for tool in prometheus promtool; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (Debian package prometheus)"; exit 77; }
done
command -v redis-server >/dev/null || fail "redis-server not installed (Debian package redis-server; make deps)"
[[ -x $ADAPTD ]] || fail "no $ADAPTD; build it (ninja -C $BUILD adaptd adaptctl)"
[[ -x $ADAPTCTL ]] || fail "no $ADAPTCTL; build it (ninja -C $BUILD adaptd adaptctl)"

work=$(mktemp -d "${TMPDIR:-/tmp}/local_stack_test.XXXXXX")
export BUILD ADAPTD ADAPTCTL STACK_DIR=$work/stack
cleanup() {
  local rc=$?
  trap - EXIT
  if ((rc != 0)); then
    for f in "$STACK_DIR"/*.log; do
      [[ -r $f ]] || continue
      echo "---- $(basename "$f") (last 30 lines)" >&2
      tail -n 30 "$f" >&2
    done
  fi
  "$STACK" stop >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# No default model in tests: an empty repository. adaptd still starts and
# serves its metrics.
mkdir -p "$work/models"

start=$SECONDS
ADAPTD_PORT=0 METRICS_PORT=0 REDIS_PORT=0 PROMETHEUS_PORT=0 SCRAPE_INTERVAL=1s START_TIMEOUT=30 \
  "$STACK" start "$work/models" || fail "local_stack.sh start failed"
eval "$("$STACK" env)"
echo "stack up in $((SECONDS - start))s: adaptd $ADAPTD_PORT, metrics $METRICS_PORT, redis $REDIS_PORT, prometheus $PROMETHEUS_PORT"

"$STACK" status >/dev/null || fail "status does not say that everything runs"

# A second start on the same STACK_DIR refuses and leaves the stack alone.
if "$STACK" start "$work/models" >/dev/null 2>&1; then fail "a second start succeeded"; fi
"$STACK" status >/dev/null || fail "a refused second start disturbed the running stack"

# Redis answers on loopback.
# shellcheck disable=SC2016  # $0, $1 belong to the inner bash
timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "PING\r\n" >&3; read -r l <&3; [[ $l == "+PONG"* ]]' \
  "$REDIS_PORT" || fail "redis-server does not answer PING on 127.0.0.1:$REDIS_PORT"

# query_until PROMQL REGEX: poll Prometheus until the answer matches REGEX.
last=""
query_until() {
  local expr=$1 regex=$2 deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    last=$("$STACK" query "$expr" 2>/dev/null || true)
    if [[ $last =~ $regex ]]; then
      echo "ok: $expr"
      return 0
    fi
    sleep 0.25
  done
  fail "after ${TIMEOUT}s Prometheus has no match for $expr ~ /$regex/; last answer: $last"
}

value='"value":\[[0-9.]+,'
target="\"instance\":\"127.0.0.1:$METRICS_PORT\",\"job\":\"adaptd\""
query_until 'up{job="adaptd"}' "$target.*$value\"1\"\\]"
query_until 'adaptd_adapter_memory_bytes{job="adaptd"}' "$target.*$value\"0\"\\]"
query_until 'process_resident_memory_bytes{job="adaptd"}' "$target.*$value\"[1-9][0-9.e+]*\"\\]"

# A real call shows up in adaptd_requests_total{rpc, code} and, through the
# recording rules, in the per-RPC rate.
"$ADAPTCTL" backbones --target="127.0.0.1:$ADAPTD_PORT" --timeout=5s >/dev/null ||
  fail "adaptctl backbones failed against the stack's adaptd"
query_until 'adaptd_requests_total{job="adaptd",rpc="ListBackbones",code="OK"}' "$value\"[1-9][0-9]*\"\\]"
query_until 'job_rpc:adaptd_requests:rate5m{job="adaptd",rpc="ListBackbones"}' "\"rpc\":\"ListBackbones\".*$value"

# Both rule groups are loaded and none of their rules fails to evaluate.
rules=$("$STACK" api /api/v1/rules) || fail "GET /api/v1/rules failed"
for group in adaptd.recording adaptd.alerts; do
  [[ $rules == *"\"name\":\"$group\""* ]] || fail "Prometheus did not load rule group $group: $rules"
done
[[ $rules != *'"health":"err"'* ]] || fail "a rule fails to evaluate: $rules"
echo "ok: rule groups loaded and healthy"

pids=$(cat "$STACK_DIR"/*.pid)
"$STACK" stop || fail "local_stack.sh stop failed"
for pid in $pids; do
  if [[ -e /proc/$pid ]] && ! grep -q '^[^)]*) Z' "/proc/$pid/stat" 2>/dev/null; then
    fail "process $pid still runs after stop"
  fi
done
if "$STACK" status >/dev/null; then fail "status says running after stop"; fi
echo "ok: one replica up, scraped, queried and stopped in $((SECONDS - start))s"

# ---------------------------------------------------------------- REPLICAS=2

# Each replica's own /metrics, over bash's /dev/tcp.
metrics_of() {
  # shellcheck disable=SC2016  # $0, $1 belong to the inner bash
  timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"
    printf "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3; cat <&3' "$1"
}
# list_backbones_count PORT: adaptd_requests_total{rpc="ListBackbones",code="OK"} there.
list_backbones_count() {
  metrics_of "$1" | sed -n 's/^adaptd_requests_total{.*rpc="ListBackbones".*code="OK".*} \([0-9.e+]*\).*/\1/p;
    s/^adaptd_requests_total{.*code="OK".*rpc="ListBackbones".*} \([0-9.e+]*\).*/\1/p' | head -n 1
}

if REPLICAS=2 ADAPTD_STORE=memory ADAPTD_PORT=0 METRICS_PORT=0 REDIS_PORT=0 PROMETHEUS_PORT=0 \
  "$STACK" start "$work/models" >/dev/null 2>&1; then
  fail "REPLICAS=2 with ADAPTD_STORE=memory started: the replicas would not share adapters"
fi

start=$SECONDS
REPLICAS=2 ADAPTD_PORT=0 METRICS_PORT=0 REDIS_PORT=0 PROMETHEUS_PORT=0 SCRAPE_INTERVAL=1s \
  START_TIMEOUT=30 "$STACK" start "$work/models" || fail "REPLICAS=2 local_stack.sh start failed"
eval "$("$STACK" env)"
# shellcheck disable=SC2153  # REPLICA_PORTS comes from `env`
read -ra replica_ports <<<"$REPLICA_PORTS"
read -ra replica_metrics <<<"$REPLICA_METRICS_PORTS"
((${#replica_ports[@]} == 2 && ${#replica_metrics[@]} == 2)) ||
  fail "env lists ports of ${#replica_ports[@]} replicas, not 2: $REPLICA_PORTS"
echo "two replicas up in $((SECONDS - start))s: balancer $ADAPTD_PORT, replicas ${replica_ports[*]}"
status=$("$STACK" status) || fail "status does not say that everything runs: $status"
for name in balancer adaptd-1 adaptd-2; do
  grep -q "^$name  *running" <<<"$status" || fail "status has no running $name: $status"
done

# Both replicas use the stack's Redis.
for name in adaptd-1 adaptd-2; do
  cmdline=$(tr '\0' ' ' <"/proc/$(cat "$STACK_DIR/$name.pid")/cmdline")
  [[ $cmdline == *"--adapter_store=redis --redis_address=127.0.0.1:$REDIS_PORT"* ]] ||
    fail "$name does not run on the stack's Redis: $cmdline"
done

# Prometheus scrapes both.
query_until 'count(up{job="adaptd"} == 1)' "$value\"2\"\]"

# One address, each connection (each adaptctl run) to the next replica.
for _ in 1 2 3 4; do
  "$ADAPTCTL" backbones --target="127.0.0.1:$ADAPTD_PORT" --timeout=5s >/dev/null ||
    fail "adaptctl backbones through the balancer failed"
done
for i in 0 1; do
  count=$(list_backbones_count "${replica_metrics[i]}")
  [[ -n $count && $count != 0 ]] ||
    fail "replica $((i + 1)) answered no ListBackbones of the 4 sent through the balancer"
done
echo "ok: calls through 127.0.0.1:$ADAPTD_PORT reached both replicas"

# One replica gone: the balancer skips it and every call is still answered.
kill -KILL "$(cat "$STACK_DIR/adaptd-1.pid")"
for _ in 1 2 3; do
  "$ADAPTCTL" backbones --target="127.0.0.1:$ADAPTD_PORT" --timeout=5s >/dev/null ||
    fail "with replica 1 killed, a call through the balancer failed"
done
if "$STACK" status >/dev/null; then fail "status says all runs with replica 1 killed"; fi
echo "ok: with one replica killed, calls through the balancer are answered"

pids=$(cat "$STACK_DIR"/*.pid)
"$STACK" stop || fail "local_stack.sh stop failed (REPLICAS=2)"
for pid in $pids; do
  if [[ -e /proc/$pid ]] && ! grep -q '^[^)]*) Z' "/proc/$pid/stat" 2>/dev/null; then
    fail "process $pid still runs after stop (REPLICAS=2)"
  fi
done
echo "PASS: local stack with one and with two replicas up, scraped, queried and stopped"
