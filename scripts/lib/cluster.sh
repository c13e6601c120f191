# A private Redis Cluster for the cluster tests: three masters and three
# replicas from the same redis-server binary, on free ports, data under
# $HAIL_DATA_DIR/cluster, stopped by stop_redis_cluster (test.sh traps it).
# Sourced after provision.sh (log, die, port_open, wait_for_port).

CLUSTER_DIR="$HAIL_DATA_DIR/cluster"
CLUSTER_PORTS=()

# Six ports in a row, each free along with its cluster bus port (+10000).
free_cluster_ports() {
  local base p ok
  # Below 22768, so the bus ports (+10000) stay under the ephemeral range
  # (32768 and up) where other programs' bind(0) land.
  local try
  for try in $(seq 40); do
    base=$((20000 + RANDOM % 2700))
    ok=1
    for p in $(seq "$base" $((base + 5))); do
      if port_open 127.0.0.1 "$p" || port_open 127.0.0.1 $((p + 10000)); then
        ok=0
        break
      fi
    done
    if [ "$ok" = 1 ]; then
      seq "$base" $((base + 5))
      return
    fi
  done
  die "found no six free ports in a row for a Redis Cluster between 20000 and 22705"
}

# start_redis_cluster [REPLICAS]: three masters with REPLICAS (default 1)
# replicas each.
start_redis_cluster() {
  local replicas=${1:-1} count
  count=$((3 * (1 + replicas)))
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
    || apt_install "Redis (for the cluster tests)" "apt-get install redis-server" "" redis-server
  local port
  CLUSTER_PORTS=()
  # (A loop rather than mapfile: macOS ships bash 3.)
  while read -r port; do CLUSTER_PORTS+=("$port"); done < <(free_cluster_ports | head -n "$count")
  [ ${#CLUSTER_PORTS[@]} -eq "$count" ] \
    || die "found no six free ports in a row (and their bus ports) for a Redis Cluster between 20000 and 22705"
  rm -rf "$CLUSTER_DIR"
  log "Redis Cluster: starting 3 masters + $((3 * replicas)) replicas on 127.0.0.1:${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[$((count - 1))]}"
  for port in "${CLUSTER_PORTS[@]}"; do
    mkdir -p "$CLUSTER_DIR/$port"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --dir "$CLUSTER_DIR/$port" --logfile "$CLUSTER_DIR/$port.log" \
      --pidfile "$CLUSTER_DIR/$port.pid" >/dev/null \
      || die "a cluster node did not start; see $CLUSTER_DIR/$port.log"
  done
  for port in "${CLUSTER_PORTS[@]}"; do
    wait_for_port 127.0.0.1 "$port" 10 || die "cluster node $port did not start; see $CLUSTER_DIR/$port.log"
  done
  local nodes=()
  for port in "${CLUSTER_PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas "$replicas" --cluster-yes >"$CLUSTER_DIR/create.log" 2>&1 \
    || die "redis-cli --cluster create failed; see $CLUSTER_DIR/create.log"
  local tries=0
  until cluster_ready "$((3 * replicas))"; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || die "the Redis Cluster did not reach cluster_state:ok; see $CLUSTER_DIR/*.log"
    sleep 0.2
  done
  HAIL_CLUSTER_URL=$(printf 'redis://127.0.0.1:%s,' "${CLUSTER_PORTS[@]}")
  export HAIL_CLUSTER_URL=${HAIL_CLUSTER_URL%,}
  log "Redis Cluster: ready ($HAIL_CLUSTER_URL)"
}

# Every node says the cluster is whole, and the replicas ($1) have joined.
cluster_ready() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
  [ "$(redis-cli -p "${CLUSTER_PORTS[0]}" cluster nodes 2>/dev/null | grep -c 'slave')" -eq "$1" ]
}

stop_redis_cluster() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  CLUSTER_PORTS=()
}
