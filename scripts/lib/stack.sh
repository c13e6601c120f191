# Sourced (after provision.sh): start a whole Hail stack from the built
# binary for a tool to run against, and stop it again, also on failure.
#
#   stack_start NAME     target/debug/hail serve all on four free ports, with a
#                        fresh database hail_<NAME>_<random>, its own Redis
#                        prefix, HAIL_ENV=dev; waits for /readyz. Extra settings:
#                        export HAIL_* variables before calling it.
#   stack_stop           stops the process, drops the database, deletes the keys.
#                        stack_start installs it as an EXIT trap.
# After stack_start: STACK_URL (the gateway), STACK_LOG (its log file),
# STACK_DB_URL, STACK_PREFIX.

STACK_PID=
STACK_DB=
STACK_ADMIN_URL=

# A port nobody listens on now (the kernel's pick, released at once).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# DATABASE_URL with its database name replaced by $1.
database_url_for() {
  local base=${DATABASE_URL%%\?*} query=
  [[ $DATABASE_URL == *\?* ]] && query="?${DATABASE_URL#*\?}"
  echo "${base%/*}/$1$query"
}

stack_start() {
  local name=$1 bin=${HAIL_BIN:-$HAIL_ROOT/target/debug/hail}
  [ -x "$bin" ] || die "$bin is missing: build it first (cargo build --bin hail)"
  local id
  id=$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')
  STACK_DB="hail_${name}_$id"
  STACK_PREFIX="${name}:$id:"
  STACK_DB_URL=$(database_url_for "$STACK_DB")
  STACK_ADMIN_URL=$(database_url_for postgres)
  STACK_LOG="$HAIL_DATA_DIR/$name-$id.log"
  mkdir -p "$HAIL_DATA_DIR"
  trap stack_stop EXIT

  local gateway user driver trip
  gateway=$(free_port) user=$(free_port) driver=$(free_port) trip=$(free_port)
  STACK_URL="http://127.0.0.1:$gateway"
  (
    export DATABASE_URL=$STACK_DB_URL HAIL_REDIS_PREFIX=$STACK_PREFIX HAIL_ENV=dev \
      HAIL_GATEWAY_HOST=127.0.0.1 HAIL_GATEWAY_PORT=$gateway HAIL_USER_PORT=$user \
      HAIL_DRIVER_PORT=$driver HAIL_TRIP_PORT=$trip HAIL_LOG_FORMAT=${HAIL_LOG_FORMAT:-pretty}
    "$bin" migrate >"$STACK_LOG" 2>&1 || exit 1
    exec "$bin" serve all >>"$STACK_LOG" 2>&1
  ) &
  STACK_PID=$!
  log "stack $name starting at $STACK_URL (log: $STACK_LOG, database: $STACK_DB)"
  local i
  for ((i = 0; i < 600; i++)); do
    if curl -fsS "$STACK_URL/readyz" >/dev/null 2>&1; then
      log "stack $name is ready"
      return 0
    fi
    kill -0 "$STACK_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 30 "$STACK_LOG" >&2 || true
  die "the stack did not become ready within 60 s; its log is $STACK_LOG"
}

stack_stop() {
  if [ -n "$STACK_PID" ]; then
    # The subshell exec'd hail, so this is hail itself: SIGTERM drains it.
    kill "$STACK_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
      kill -0 "$STACK_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$STACK_PID" 2>/dev/null || true
    wait "$STACK_PID" 2>/dev/null || true
    STACK_PID=
  fi
  if [ -n "$STACK_DB" ]; then
    psql "$STACK_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$STACK_DB\" WITH (FORCE)" >/dev/null 2>&1 \
      || warn "could not drop database $STACK_DB; drop it by hand"
    if command -v redis-cli >/dev/null; then
      redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" --scan --pattern "${STACK_PREFIX}*" 2>/dev/null \
        | xargs -r -n 500 redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" DEL >/dev/null 2>&1 || true
    fi
    STACK_DB=
  fi
}
