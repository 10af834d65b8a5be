#!/usr/bin/env bash
# adaptd's local stack: adaptd, redis-server and a real Prometheus scraping
# adaptd, all on loopback, all from Debian packages (`make deps` installs
# prometheus and redis-server).
#
#   scripts/local_stack.sh [run] [MODEL_DIR]   start, stay in the foreground, Ctrl-C stops
#   scripts/local_stack.sh start [MODEL_DIR]   start in the background and return
#   scripts/local_stack.sh status              what runs where; exit 0 only if all run
#   scripts/local_stack.sh stop                stop everything (adaptd drains first)
#   scripts/local_stack.sh query 'PROMQL'      ask the stack's Prometheus; prints the JSON
#   scripts/local_stack.sh api PATH            GET any Prometheus path, e.g. /api/v1/rules
#   scripts/local_stack.sh env                 the ports and paths of the running stack
#
# MODEL_DIR defaults to $MODELS, else ./models (`make models` builds it). An
# empty directory is fine: adaptd starts with no backbone and serves metrics.
#
# REPLICAS=2 (or more) runs that many adaptd replicas on the stack's Redis,
# behind one address: $ADAPTD_PORT is then a small TCP round-robin balancer
# (python3's standard library, nothing to install) that sends each new
# connection to the next replica, skipping one that refuses, as a
# Kubernetes Service does. gRPC keeps a connection open, so one client
# channel stays on one replica; open a channel per call, or use client-side
# round_robin over the replicas' own ports (`env` lists them), to spread
# calls. Prometheus scrapes every replica.
#
# Environment (defaults in brackets). A port of 0 means "pick a free one";
# `env` and `status` tell which was picked.
#   BUILD [build]            where adaptd and adaptctl were built
#   ADAPTD, ADAPTCTL         the binaries [$BUILD/server/adaptd, $BUILD/client/adaptctl]
#   PROMETHEUS, REDIS_SERVER the binaries [prometheus, redis-server from PATH]
#   ADAPTD_PORT [50051]  METRICS_PORT [9464]  REDIS_PORT [6379]  PROMETHEUS_PORT [9090]
#   ADAPTD_STORE [redis]     redis | memory (auto is taken as redis); REPLICAS > 1 needs redis
#   REPLICAS [1]             adaptd replicas; above 1 they sit behind a balancer on ADAPTD_PORT
#                            and their own gRPC ports (and the metrics ports after the
#                            first, METRICS_PORT) are picked free
#   ADAPTD_ARGS              more adaptd flags, split on spaces
#   SCRAPE_INTERVAL [5s]     Prometheus scrape and rule evaluation interval
#   STACK_DIR [${TMPDIR:-/tmp}/adaptd-stack-$UID]
#                            pid files, logs, generated config, Prometheus TSDB
#                            and Redis data; `stop` deletes the data, keeps the logs
#   START_TIMEOUT [60]       seconds each component may take to become ready
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

BUILD=${BUILD:-build}
if [[ $BUILD != /* ]]; then
  if [[ -d $BUILD ]]; then BUILD=$(cd "$BUILD" && pwd); else BUILD=$ROOT/$BUILD; fi
fi
ADAPTD=${ADAPTD:-$BUILD/server/adaptd}
ADAPTCTL=${ADAPTCTL:-$BUILD/client/adaptctl}
PROMETHEUS=${PROMETHEUS:-prometheus}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
ADAPTD_STORE=${ADAPTD_STORE:-redis}
ADAPTD_ARGS=${ADAPTD_ARGS:-}
SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-5s}
STACK_DIR=${STACK_DIR:-${TMPDIR:-/tmp}/adaptd-stack-$(id -u)}
START_TIMEOUT=${START_TIMEOUT:-60}
REPLICAS=${REPLICAS:-1}
HOST=127.0.0.1
BALANCER_TAG=adaptd-local-stack-balancer  # in the balancer's command line, to find it again

log() { echo "local_stack: $*" >&2; }
die() { log "$*"; exit 1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

# ---------------------------------------------------------------- helpers

# Local TCP ports in use (any state), from /proc; no ss or netstat needed.
used_ports() {
  local f addr
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] || continue
    while read -r _ addr _; do
      [[ $addr == *:* ]] && echo $((16#${addr##*:}))
    done < <(tail -n +2 "$f")
  done
}

PICKED=" "
# pick_port VAR: if $VAR is 0, set it to a port nobody uses, below the
# kernel's ephemeral range so outgoing connections do not take it meanwhile.
pick_port() {
  local -n port_ref=$1
  [[ $port_ref == 0 ]] || return 0
  local used p _
  used=" $(used_ports | sort -un | tr '\n' ' ')${PICKED}"
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    if [[ $used != *" $p "* ]]; then
      port_ref=$p
      PICKED+="$p "
      return 0
    fi
  done
  die "no free port found for $1"
}

# A process that exists and is not a zombie.
alive() {
  local pid=$1 state
  [[ -n $pid && -r /proc/$pid/stat ]] || return 1
  state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

pid_of() { if [[ -r $STACK_DIR/$1.pid ]]; then cat "$STACK_DIR/$1.pid"; fi; }

# The pid in $1.pid, if that process is alive and still the program we
# started (pids get reused).
running_pid() {
  local pid expected=$2
  pid=$(pid_of "$1")
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$expected" || return 1
  echo "$pid"
}

# http_get PORT PATH: GET http://127.0.0.1:PORT/PATH over bash's /dev/tcp
# (no curl needed); prints the body; fails unless the answer is 200.
http_get() {
  local resp
  # shellcheck disable=SC2016  # the program takes its arguments as $0, $1, $2
  resp=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$2" "$0" >&3
    cat <&3' "$HOST" "$1" "$2" 2>/dev/null) || return 1
  [[ ${resp%%$'\r'*} =~ ^HTTP/1\.[01]\ 200 ]] || return 1
  printf '%s\n' "${resp#*$'\r\n\r\n'}"
}

urlencode() {
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [a-zA-Z0-9._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

redis_ping() {
  # shellcheck disable=SC2016  # the program takes its arguments as $0, $1
  timeout 2 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "PING\r\n" >&3
    read -r line <&3 && [[ $line == "+PONG"* ]]' "$HOST" "$REDIS_PORT" 2>/dev/null
}

prometheus_ready() { http_get "$PROMETHEUS_PORT" /-/ready >/dev/null; }

# The replicas' names: "adaptd" alone, or adaptd-1 .. adaptd-N.
replica_names() {
  if ((REPLICAS == 1)); then echo adaptd; else seq -f 'adaptd-%g' 1 "$REPLICAS"; fi
}

# Every component, in stop order: the balancer first, then the replicas
# (which drain while Redis still takes writes), Prometheus, Redis.
components() {
  if ((REPLICAS > 1)); then echo balancer; fi
  replica_names
  echo prometheus redis
}

# replica_ready I: replica I (1-based) serves metrics and answers health.
replica_ready() {
  local ports metrics i=$(($1 - 1))
  read -ra ports <<<"$REPLICA_PORTS"
  read -ra metrics <<<"$REPLICA_METRICS_PORTS"
  http_get "${metrics[i]}" /metrics >/dev/null || return 1
  if [[ -x $ADAPTCTL ]]; then
    "$ADAPTCTL" health --target="$HOST:${ports[i]}" --timeout=2s >/dev/null 2>&1 || return 1
  fi
}

balancer_ready() {
  if [[ -x $ADAPTCTL ]]; then
    "$ADAPTCTL" health --target="$HOST:$ADAPTD_PORT" --timeout=2s >/dev/null 2>&1
  else
    # shellcheck disable=SC2016  # the program takes its arguments as $0, $1
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$ADAPTD_PORT" 2>/dev/null
  fi
}

# The balancer: per connection, the next replica in turn (skipping one that
# refuses), bytes copied both ways until either side closes.
# shellcheck disable=SC2016  # Python, not shell
BALANCER_PY='
import asyncio, itertools, sys
host, port = sys.argv[2], int(sys.argv[3])
backends = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in sys.argv[4:]]
turn = itertools.count()

async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()

async def handle(client_reader, client_writer):
    first = next(turn)
    for k in range(len(backends)):
        try:
            reader, writer = await asyncio.open_connection(*backends[(first + k) % len(backends)])
            break
        except OSError:
            continue
    else:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, writer), pipe(reader, client_writer))

async def main():
    server = await asyncio.start_server(handle, host, port)
    print("balancing %s:%d over %s" % (host, port, " ".join(sys.argv[4:])), flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
'

# launch NAME CMD...: start CMD in a session of its own (so a Ctrl-C meant
# for this script does not reach it), output to NAME.log; the process writes
# its own pid before it execs.
launch() {
  local name=$1
  shift
  rm -f "$STACK_DIR/$name.pid"
  # shellcheck disable=SC2016  # $$ and $0 are the child's
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$STACK_DIR/$name.pid" "$@" \
    </dev/null >"$STACK_DIR/$name.log" 2>&1 &
}

# wait_ready NAME CHECK: poll CHECK until it passes; fail early if NAME died.
wait_ready() {
  local name=$1 check=$2 deadline=$((SECONDS + START_TIMEOUT)) pid
  while ((SECONDS < deadline)); do
    pid=$(pid_of "$name")
    if [[ -n $pid ]] && ! alive "$pid"; then
      log "$name exited during start; the end of $STACK_DIR/$name.log:"
      tail -n 20 "$STACK_DIR/$name.log" >&2 || true
      return 1
    fi
    if [[ -n $pid ]] && $check; then return 0; fi
    sleep 0.2
  done
  log "$name not ready after ${START_TIMEOUT}s; the end of $STACK_DIR/$name.log:"
  tail -n 20 "$STACK_DIR/$name.log" >&2 || true
  return 1
}

load_env() {
  [[ -r $STACK_DIR/stack.env ]] || return 1
  # shellcheck disable=SC1091
  source "$STACK_DIR/stack.env"
}

binary_name() {
  case $1 in
    adaptd | adaptd-*) basename "$ADAPTD" ;;
    balancer) echo "$BALANCER_TAG" ;;
    prometheus) basename "$PROMETHEUS" ;;
    redis) basename "$REDIS_SERVER" ;;
  esac
}

# --------------------------------------------------------------- commands

need() {
  local what=$1 hint=$2 path
  path=$(command -v "$what" 2>/dev/null) || die "$what not found: $hint"
  [[ -x $path ]] || die "$what is not executable: $hint"
}

cmd_start() {
  local models=${1:-${MODELS:-models}}
  need "$ADAPTD" "build it: make build (or ninja -C $BUILD adaptd adaptctl), or set ADAPTD"
  need "$PROMETHEUS" "install Debian's prometheus package (make deps), or set PROMETHEUS"
  need "$REDIS_SERVER" "install Debian's redis-server package (make deps), or set REDIS_SERVER"
  [[ -d $models ]] || die "model repository $models is not a directory: run \`make models\`, or pass an (even empty) directory"
  models=$(cd "$models" && pwd)
  [[ $REPLICAS =~ ^[1-9][0-9]*$ ]] || die "REPLICAS must be a whole number >= 1, not '$REPLICAS'"
  if ((REPLICAS > 1)); then
    [[ $ADAPTD_STORE != memory ]] ||
      die "REPLICAS=$REPLICAS needs ADAPTD_STORE=redis: with memory each replica keeps its own adapters"
    need python3 "the balancer in front of REPLICAS=$REPLICAS runs on python3 (Debian's python3)"
  fi

  mkdir -p "$STACK_DIR"
  STACK_DIR=$(cd "$STACK_DIR" && pwd)
  local c pidfile
  for pidfile in "$STACK_DIR"/*.pid; do
    [[ -e $pidfile ]] || continue
    c=$(basename "$pidfile" .pid)
    if running_pid "$c" "$(binary_name "$c")" >/dev/null; then
      die "$c already runs from $STACK_DIR; run \`$0 stop\` first (or set STACK_DIR)"
    fi
  done
  rm -rf "$STACK_DIR/prometheus" "$STACK_DIR/redis"
  mkdir -p "$STACK_DIR/prometheus/data" "$STACK_DIR/redis"

  ADAPTD_PORT=${ADAPTD_PORT:-50051}
  METRICS_PORT=${METRICS_PORT:-9464}
  REDIS_PORT=${REDIS_PORT:-6379}
  PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
  pick_port ADAPTD_PORT
  pick_port METRICS_PORT
  pick_port REDIS_PORT
  pick_port PROMETHEUS_PORT
  # Each replica's gRPC and metrics ports; one replica uses ADAPTD_PORT
  # itself, several sit behind the balancer there.
  REPLICA_PORTS="" REPLICA_METRICS_PORTS=""
  local i port metrics
  for ((i = 1; i <= REPLICAS; i++)); do
    port=$ADAPTD_PORT metrics=$METRICS_PORT
    if ((REPLICAS > 1)); then port=0; fi
    if ((i > 1)); then metrics=0; fi
    pick_port port
    pick_port metrics
    REPLICA_PORTS+="${REPLICA_PORTS:+ }$port"
    REPLICA_METRICS_PORTS+="${REPLICA_METRICS_PORTS:+ }$metrics"
  done

  local var
  for var in ADAPTD_PORT METRICS_PORT REDIS_PORT PROMETHEUS_PORT ADAPTD PROMETHEUS REDIS_SERVER \
    MODEL_REPOSITORY STACK_DIR REPLICAS REPLICA_PORTS REPLICA_METRICS_PORTS; do
    if [[ $var == MODEL_REPOSITORY ]]; then printf '%s=%q\n' "$var" "$models"; else printf '%s=%q\n' "$var" "${!var}"; fi
  done >"$STACK_DIR/stack.env"

  # Redis first: adaptd connects to it at start once it uses it.
  launch redis "$REDIS_SERVER" --bind "$HOST" --port "$REDIS_PORT" --protected-mode yes \
    --dir "$STACK_DIR/redis" --appendonly yes --save "" --daemonize no --logfile ""
  wait_ready redis redis_ping || abort_start

  local store_args=()
  case $ADAPTD_STORE in
    redis | auto) store_args=(--adapter_store=redis "--redis_address=$HOST:$REDIS_PORT") ;;
    memory) ;;
    *) log "ADAPTD_STORE must be redis, memory or auto, not $ADAPTD_STORE"; abort_start ;;
  esac
  local names ports metrics_ports
  mapfile -t names < <(replica_names)
  read -ra ports <<<"$REPLICA_PORTS"
  read -ra metrics_ports <<<"$REPLICA_METRICS_PORTS"
  for ((i = 0; i < REPLICAS; i++)); do
    # shellcheck disable=SC2086  # ADAPTD_ARGS is meant to split
    launch "${names[i]}" "$ADAPTD" "--model_repository=$models" "--host=$HOST" \
      "--port=${ports[i]}" "--metrics_port=${metrics_ports[i]}" "${store_args[@]}" $ADAPTD_ARGS
  done
  for ((i = 0; i < REPLICAS; i++)); do
    wait_ready "${names[i]}" "replica_ready $((i + 1))" || abort_start
  done
  if ((REPLICAS > 1)); then
    local backends=()
    for port in "${ports[@]}"; do backends+=("$HOST:$port"); done
    launch balancer python3 -c "$BALANCER_PY" "$BALANCER_TAG" "$HOST" "$ADAPTD_PORT" "${backends[@]}"
    wait_ready balancer balancer_ready || abort_start
  fi

  # Prometheus: deploy/prometheus as it is, with the targets moved to the
  # ports in use (every replica's) and the interval from SCRAPE_INTERVAL.
  local targets=""
  for metrics in "${metrics_ports[@]}"; do targets+="${targets:+, }\"$HOST:$metrics\""; done
  cp -r "$ROOT/deploy/prometheus/rules" "$STACK_DIR/prometheus/"
  sed -e "s/\"localhost:9464\"/$targets/" \
      -e "s/\"localhost:9090\"/\"$HOST:$PROMETHEUS_PORT\"/" \
      -e "s/^\(  scrape_interval:\).*/\1 $SCRAPE_INTERVAL/" \
      -e "s/^\(  scrape_timeout:\).*/\1 $SCRAPE_INTERVAL/" \
      -e "s/^\(  evaluation_interval:\).*/\1 $SCRAPE_INTERVAL/" \
      "$ROOT/deploy/prometheus/prometheus.yml" >"$STACK_DIR/prometheus/prometheus.yml"
  if ! grep -q "\"$HOST:$METRICS_PORT\"" "$STACK_DIR/prometheus/prometheus.yml"; then
    log "deploy/prometheus/prometheus.yml no longer has the target \"localhost:9464\" to rewrite"
    abort_start
  fi
  launch prometheus "$PROMETHEUS" "--config.file=$STACK_DIR/prometheus/prometheus.yml" \
    "--storage.tsdb.path=$STACK_DIR/prometheus/data" "--web.listen-address=$HOST:$PROMETHEUS_PORT"
  wait_ready prometheus prometheus_ready || abort_start

  log "up (state and logs in $STACK_DIR):"
  cmd_status >&2 || true
}

abort_start() {
  log "start failed; stopping what did start"
  cmd_stop >/dev/null 2>&1 || true
  exit 1
}

# stop_one NAME GRACE
stop_one() {
  local name=$1 grace=$2 pid deadline
  if pid=$(running_pid "$name" "$(binary_name "$name")"); then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if alive "$pid"; then
      log "$name (pid $pid) still runs after ${grace}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$STACK_DIR/$name.pid"
}

cmd_stop() {
  load_env || { log "nothing to stop in $STACK_DIR"; return 0; }
  local c
  for c in $(components); do
    case $c in
      adaptd*) stop_one "$c" 30 ;; # --shutdown_grace (10s by default) plus room to exit
      prometheus) stop_one "$c" 20 ;;
      *) stop_one "$c" 10 ;;
    esac
  done
  rm -rf "$STACK_DIR/prometheus/data" "$STACK_DIR/redis" "$STACK_DIR/stack.env"
  log "stopped; logs stay in $STACK_DIR"
}

cmd_status() {
  load_env || { echo "not running (no $STACK_DIR/stack.env)"; return 3; }
  local all=0 pid i names ports metrics
  mapfile -t names < <(replica_names)
  read -ra ports <<<"$REPLICA_PORTS"
  read -ra metrics <<<"$REPLICA_METRICS_PORTS"
  if ((REPLICAS > 1)); then
    if pid=$(running_pid balancer "$(binary_name balancer)"); then
      echo "balancer    running  pid $pid  grpc $HOST:$ADAPTD_PORT  round robin over $REPLICAS replicas"
    else
      echo "balancer    stopped"; all=3
    fi
  fi
  for ((i = 0; i < REPLICAS; i++)); do
    if pid=$(running_pid "${names[i]}" "$(binary_name adaptd)"); then
      printf '%-11s running  pid %s  grpc %s  metrics http://%s/metrics\n' "${names[i]}" "$pid" \
        "$HOST:${ports[i]}" "$HOST:${metrics[i]}"
    else
      printf '%-11s stopped\n' "${names[i]}"; all=3
    fi
  done
  if pid=$(running_pid redis "$(binary_name redis)"); then
    echo "redis       running  pid $pid  $HOST:$REDIS_PORT"
  else
    echo "redis       stopped"; all=3
  fi
  if pid=$(running_pid prometheus "$(binary_name prometheus)"); then
    echo "prometheus  running  pid $pid  http://$HOST:$PROMETHEUS_PORT"
  else
    echo "prometheus  stopped"; all=3
  fi
  echo "models      $MODEL_REPOSITORY"
  return $all
}

cmd_query() {
  [[ $# -eq 1 ]] || die "usage: $0 query 'PROMQL'"
  load_env || die "the stack is not running (no $STACK_DIR/stack.env)"
  http_get "$PROMETHEUS_PORT" "/api/v1/query?query=$(urlencode "$1")"
}

cmd_api() {
  [[ $# -eq 1 && $1 == /* ]] || die "usage: $0 api /PATH (e.g. /api/v1/targets)"
  load_env || die "the stack is not running (no $STACK_DIR/stack.env)"
  http_get "$PROMETHEUS_PORT" "$1"
}

cmd_run() {
  trap 'exit 130' INT TERM
  trap 'trap - EXIT; cmd_stop' EXIT
  cmd_start "$@"
  log "Ctrl-C stops the stack"
  local c
  while sleep 1; do
    for c in $(components); do
      if ! running_pid "$c" "$(binary_name "$c")" >/dev/null; then
        log "$c exited; the end of $STACK_DIR/$c.log:"
        tail -n 20 "$STACK_DIR/$c.log" >&2 || true
        exit 1
      fi
    done
  done
}

command=${1:-run}
[[ $# -gt 0 ]] && shift
case $command in
  run) cmd_run "$@" ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  query) cmd_query "$@" ;;
  api) cmd_api "$@" ;;
  env)
    load_env || die "the stack is not running"
    cat "$STACK_DIR/stack.env"
    ;;
  help | -h | --help) usage ;;
  *) usage >&2; exit 2 ;;
esac
