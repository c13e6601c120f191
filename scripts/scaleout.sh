#!/usr/bin/env bash
# Scale-out, measured (issue 17; figures in BENCHMARKS.md): `hail bench all`
# against Hail as separate processes on this machine, three times:
#   single   a private Redis, one instance of every service
#   cluster1 a private Redis Cluster (3 masters + 3 replicas), one of each
#   cluster2 the same cluster, two of each (the bench's calls take both
#            gateways in turn; every service lists every instance of the others)
#   bare1    a cluster of 3 masters and no replicas, one of each (what the
#            cluster itself costs, without replication)
# Every run gives each service the same Postgres connections in all (the
# default 16 + 8, split between its instances): this machine's Postgres
# allows 100.
# Each run reports, beside its latencies, the CPU-seconds every kind of
# process used per 100,000 REST pings and per 1,000 dispatches (from
# /proc/<pid>/stat), Redis included.
#
#   ./scripts/scaleout.sh [single|cluster1|cluster2|bare1 ...] [-- extra hail bench args]
# Defaults: all three runs, and (with no bench args given) --drivers 2000
# --requests 1000 --rate 100.
# HAIL_BIN=/path/to/hail runs that binary instead of building this checkout
# (to compare two builds in one hour). HAIL_SERVE_THREADS=N gives every
# service process N runtime threads (tokio's default: one per core).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/provision.sh
source scripts/lib/stack.sh
source scripts/lib/cluster.sh

RUNS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do RUNS+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#RUNS[@]} -gt 0 ] || RUNS=(single cluster1 cluster2)
BENCH_ARGS=("$@")
[ ${#BENCH_ARGS[@]} -gt 0 ] || BENCH_ARGS=(--drivers 2000 --requests 1000 --rate 100)

ensure_toolchain
ensure_postgres
ensure_fault_tools
if [ -n "${HAIL_BIN:-}" ]; then
  HAIL=$HAIL_BIN
  [ -x "$HAIL" ] || die "HAIL_BIN=$HAIL is not an executable hail binary"
else
  log "building hail (release)"
  cargo build --release --locked --bin hail
  HAIL=$HAIL_ROOT/target/release/hail
fi
OUT=$HAIL_DATA_DIR/scaleout
mkdir -p "$OUT"

PIDS=()
SINGLE_PORT=
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  stop_redis_cluster
  if [ -n "$SINGLE_PORT" ]; then
    redis-cli -p "$SINGLE_PORT" shutdown nosave >/dev/null 2>&1 || true
    SINGLE_PORT=
  fi
}
trap cleanup EXIT

# start_services RUN REDIS_URL CLUSTER INSTANCES: prints the --cpu and
# --gateway arguments for the bench on stdout's last line.
run_one() {
  local run=$1 redis_url=$2 cluster=$3 instances=$4
  local db="hail_scaleout_${run}_$(date +%s)" log="$OUT/$run.log"
  local cpu=() gateways=() urls_user=() urls_driver=() urls_trip=()
  declare -A port
  local svc i
  for svc in user driver trip gateway; do
    for ((i = 1; i <= instances; i++)); do port[$svc$i]=$(free_port); done
  done
  for ((i = 1; i <= instances; i++)); do
    urls_user+=("http://127.0.0.1:${port[user$i]}")
    urls_driver+=("http://127.0.0.1:${port[driver$i]}")
    urls_trip+=("http://127.0.0.1:${port[trip$i]}")
    gateways+=("http://127.0.0.1:${port[gateway$i]}")
  done
  local join
  join() { local IFS=,; echo "$*"; }
  export HAIL_ENV=dev DATABASE_URL=$(database_url_for "$db") REDIS_URL=$redis_url \
    HAIL_REDIS_CLUSTER=$cluster HAIL_REDIS_PREFIX="scaleout:" RUST_LOG=warn \
    HAIL_USER_URL=$(join "${urls_user[@]}") HAIL_DRIVER_URL=$(join "${urls_driver[@]}") \
    HAIL_TRIP_URL=$(join "${urls_trip[@]}") HAIL_GATEWAY_HOST=127.0.0.1 \
    HAIL_RIDER_CANCEL_LIMIT=100000 HAIL_RATE_LIMIT_SOCKET_EVENTS_PER_MIN=60000000 \
    HAIL_RATE_LIMIT_SOCKET_EVENTS_BURST=100000 \
    HAIL_DATABASE_POOL_SIZE=$((16 / instances)) HAIL_DATABASE_BACKGROUND_POOL_SIZE=$((8 / instances))
  "$HAIL" migrate >"$log" 2>&1 || die "hail migrate failed; see $log"
  for svc in user driver trip gateway; do
    for ((i = 1; i <= instances; i++)); do
      local var="HAIL_${svc^^}_PORT"
      env "$var=${port[$svc$i]}" ${HAIL_SERVE_THREADS:+TOKIO_WORKER_THREADS=$HAIL_SERVE_THREADS} \
        "$HAIL" serve "$svc" >>"$log" 2>&1 &
      PIDS+=($!)
      cpu+=(--cpu "$svc=$!")
    done
  done
  local gateway
  for gateway in "${gateways[@]}"; do
    for ((i = 0; i < 600; i++)); do
      curl -fsS "$gateway/readyz" >/dev/null 2>&1 && break
      sleep 0.1
    done
    curl -fsS "$gateway/readyz" >/dev/null 2>&1 || die "$gateway never became ready; see $log"
  done
  if [ "$cluster" = true ]; then
    # Masters and replicas apart: a replica replays every write it is sent.
    local role
    for i in "${CLUSTER_PORTS[@]}"; do
      role=$(redis-cli -p "$i" info replication | tr -d '\r' | sed -n 's/^role://p')
      [ "$role" = slave ] && role=replica
      cpu+=(--cpu "redis-$role=$(cat "$CLUSTER_DIR/$i.pid")")
    done
  else
    cpu+=(--cpu "redis=$(cat "$OUT/redis.pid")")
  fi
  # Every Postgres backend (they come and go with the pools).
  cpu+=(--cpu "postgres=comm:postgres")
  local flags=()
  [ "$cluster" = true ] && flags+=(--redis-cluster)
  log "$run: hail bench all through $(join "${gateways[@]}") (log: $log)"
  "$HAIL" bench all --gateway "$(join "${gateways[@]}")" --redis "$redis_url" "${flags[@]}" \
    "${cpu[@]}" "${BENCH_ARGS[@]}" | tee "$OUT/$run.md"
  # How Redis spent it: commands per read (batching) and time per call.
  local node
  : >"$OUT/$run.redis.txt"
  for node in ${CLUSTER_PORTS[@]+"${CLUSTER_PORTS[@]}"} $SINGLE_PORT; do
    {
      echo "## node $node"
      redis-cli -p "$node" info stats | grep -E '^(total_commands_processed|total_reads_processed|total_writes_processed|total_net_input_bytes)'
      # (A replica runs none of these: no match is no failure.)
      redis-cli -p "$node" info commandstats | grep -E 'evalsha|geosearch|spublish|publish|exists|mget|get:' || true
    } >>"$OUT/$run.redis.txt"
  done
  cleanup
  # Each run's database is its own, made by `hail migrate`; the tables and
  # logs under $OUT are what is kept.
  psql "$(database_url_for postgres)" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 \
    || log "could not drop the database $db; drop it by hand"
}

for run in "${RUNS[@]}"; do
  case $run in
    single)
      SINGLE_PORT=$(free_port)
      redis-server --port "$SINGLE_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
        --dir "$OUT" --logfile "$OUT/redis.log" --pidfile "$OUT/redis.pid" >/dev/null
      wait_for_port 127.0.0.1 "$SINGLE_PORT" 10 || die "the private Redis did not start"
      run_one single "redis://127.0.0.1:$SINGLE_PORT" false 1
      ;;
    cluster1 | cluster2)
      start_redis_cluster
      run_one "$run" "$HAIL_CLUSTER_URL" true "${run#cluster}"
      ;;
    bare1)
      start_redis_cluster 0
      run_one "$run" "$HAIL_CLUSTER_URL" true 1
      ;;
    *) die "unknown run $run: use single, cluster1, cluster2 or bare1" ;;
  esac
done
log "tables in $OUT/*.md"
