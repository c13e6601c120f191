#!/usr/bin/env bash
# Soak benchmark (not part of the tests): the simulator drives a stack of four
# separate processes (gateway, user, driver, trip) for a while; every 30 s the
# memory (RSS) of each process is sampled; at the end a markdown table shows
# memory over time and every error status the gateway answered.
#
#   scripts/soak.sh                    # 1,000 drivers, 10 minutes
#   DRIVERS=200 MINUTES=2 scripts/soak.sh
#
# Uses its own database and Redis prefix and free ports; needs nothing else
# running. Builds `hail` in release mode first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/provision.sh

DRIVERS=${DRIVERS:-1000}
RIDERS=${RIDERS:-400}
RATE=${RATE:-120}
MINUTES=${MINUTES:-10}
SAMPLE_SECS=${SAMPLE_SECS:-30}

ensure_toolchain
ensure_postgres
ensure_redis
log "building hail (release)"
cargo build --release --locked --bin hail
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/hail

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run_id=soak_$(date +%s)
out=$HAIL_DATA_DIR/$run_id
mkdir -p "$out"
export HAIL_ENV=dev HAIL_LOG_FORMAT=json RUST_LOG=warn
export HAIL_REDIS_PREFIX="$run_id:"
export DATABASE_URL="${DATABASE_URL%/*}/hail_$run_id"
export HAIL_GATEWAY_PORT=$(free_port) HAIL_USER_PORT=$(free_port) HAIL_DRIVER_PORT=$(free_port) HAIL_TRIP_PORT=$(free_port)
gateway=http://127.0.0.1:$HAIL_GATEWAY_PORT

# More sockets than the default 1,024 descriptors allow.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((DRIVERS * 3)) ] \
  || warn "the file limit ($(ulimit -n)) is low for $DRIVERS drivers' sockets; raise it (ulimit -n) if connections fail"

"$bin" migrate >"$out/migrate.log" 2>&1 || die "migrate failed; see $out/migrate.log"
declare -A pids
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "${DATABASE_URL%/*}/postgres" -qAtX -c "DROP DATABASE IF EXISTS hail_$run_id WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
for svc in driver user trip gateway; do
  "$bin" serve "$svc" >"$out/$svc.log" 2>&1 &
  pids[$svc]=$!
  sleep 1
done
for _ in $(seq 1 100); do
  curl -fs "$gateway/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$gateway/readyz" >/dev/null || die "the stack did not become ready; logs in $out"

log "soak: $DRIVERS drivers, $RIDERS riders, $RATE trips/min for $MINUTES min (logs in $out)"
"$bin" simulate --gateway "$gateway" --drivers "$DRIVERS" --riders "$RIDERS" --rate "$RATE" \
  --duration $((MINUTES * 60)) --seed 7 >"$out/simulate.out" 2>"$out/simulate.err" &
sim=$!

rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "-"; }
{
  echo "| minute | gateway MiB | user MiB | driver MiB | trip MiB |"
  echo "|---:|---:|---:|---:|---:|"
} >"$out/memory.md"
started=$(date +%s)
while kill -0 "$sim" 2>/dev/null; do
  elapsed=$(( $(date +%s) - started ))
  row=$(printf '| %s | %s | %s | %s | %s |' "$(awk -v e="$elapsed" 'BEGIN { printf "%.1f", e / 60 }')" \
    "$(rss_mib "${pids[gateway]}")" "$(rss_mib "${pids[user]}")" "$(rss_mib "${pids[driver]}")" "$(rss_mib "${pids[trip]}")")
  echo "$row" >>"$out/memory.md"
  printf '\r%s' "$row" >&2
  sleep "$SAMPLE_SECS"
done
echo >&2
sim_status=0
wait "$sim" || sim_status=$?

echo
echo "## Memory (RSS) per process"
cat "$out/memory.md"
echo
echo "## Error answers at the gateway (status >= 400), by route"
curl -fs "$gateway/metrics" | grep '^http_requests_total' | grep 'service="gateway"' \
  | grep -E 'status="[45][0-9][0-9]"' || echo "(none)"
echo
echo "## Simulator summary"
cat "$out/simulate.out"
echo
[ "$sim_status" = 0 ] || die "the simulator exited with $sim_status (an invariant broke, or it failed; see $out/simulate.err)"
log "soak finished; files in $out"
