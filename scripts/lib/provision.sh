# Sourced by scripts/run.sh and scripts/test.sh: makes sure what Hail needs is
# there, starting or installing it when it is not.
#
# - Postgres: DATABASE_URL if set (it must answer); else the local server on
#   127.0.0.1:5432 if it lets `postgres` in; else a private server on port
#   55432 with its data under .hail/postgres, installed with apt-get first
#   when the binaries are missing and we are root on Debian.
# - Redis: REDIS_URL if set; else 127.0.0.1:6379; else a private one on 56379.
# Exports DATABASE_URL and REDIS_URL for what runs next.

HAIL_ROOT=${HAIL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
HAIL_DATA_DIR=${HAIL_DATA_DIR:-$HAIL_ROOT/.hail}
PRIVATE_PG_PORT=55432
PRIVATE_REDIS_PORT=56379

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for_port() { # host port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    port_open "$1" "$2" && return 0
    sleep 0.1
  done
  return 1
}

# "host port" from a URL like scheme://user:pw@host:port/db?x=y
url_host_port() {
  local rest=${1#*://}
  rest=${rest##*@}
  rest=${rest%%/*}
  rest=${rest%%\?*}
  local host=${rest%%:*} port=$2
  [[ $rest == *:* ]] && port=${rest##*:}
  [ "$host" = localhost ] && host=127.0.0.1
  echo "$host $port"
}

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

apt_install() {
  can_install || die "$1 is missing. Install it ($2), or point ${3:-it} at a running server, then run this again."
  log "installing ${*:4} with apt-get (needs network access to Debian's mirrors)"
  if [ -z "${HAIL_APT_UPDATED:-}" ]; then
    apt-get update -qq || die "apt-get update failed; install ${*:4} by hand"
    HAIL_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${@:4}" >/dev/null \
    || die "apt-get install ${*:4} failed; install it by hand and run this again"
}

ensure_toolchain() {
  command -v cargo >/dev/null || die "Rust is not installed. Install it from https://rustup.rs, open a new shell, and run this again."
  command -v cc >/dev/null || apt_install "A C linker (cc)" "apt-get install gcc" "" gcc libc6-dev
}

pg_bindir() {
  if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
    dirname "$(command -v pg_ctl)"
    return 0
  fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# Postgres lets us in at this URL (when psql is here to ask; otherwise an
# open port has to do).
pg_answers() {
  if command -v psql >/dev/null; then
    psql "$1" -qAtX -c 'SELECT 1' >/dev/null 2>&1
  else
    local host port
    read -r host port <<<"$(url_host_port "$1" 5432)"
    port_open "$host" "$port"
  fi
}

ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    local host port
    read -r host port <<<"$(url_host_port "$DATABASE_URL" 5432)"
    port_open "$host" "$port" || die "nothing answers at DATABASE_URL ($host:$port). Start Postgres there, or unset DATABASE_URL to let this script start a private one."
    log "Postgres: using DATABASE_URL ($host:$port)"
    return
  fi
  if pg_answers "postgres://postgres@127.0.0.1:5432/postgres"; then
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/hail
    log "Postgres: using the local server on 127.0.0.1:5432"
    return
  fi
  export DATABASE_URL=postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT/hail
  if pg_answers "postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT/postgres"; then
    log "Postgres: using the private server on 127.0.0.1:$PRIVATE_PG_PORT"
    return
  fi
  start_private_postgres
}

start_private_postgres() {
  local bindir
  bindir=$(pg_bindir) || true
  if [ -z "$bindir" ]; then
    apt_install "PostgreSQL" "apt-get install postgresql, or brew install postgresql" DATABASE_URL postgresql
    bindir=$(pg_bindir) || die "PostgreSQL was installed but initdb was not found"
  fi
  local pgdata=$HAIL_DATA_DIR/postgres
  mkdir -p "$HAIL_DATA_DIR"
  # Postgres refuses to run as root: run it as the `postgres` user then.
  local run=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    mkdir -p "$pgdata"
    chown postgres "$pgdata"
    chmod 700 "$pgdata"
    touch "$HAIL_DATA_DIR/postgres.log" && chown postgres "$HAIL_DATA_DIR/postgres.log"
    run=(runuser -u postgres --)
  fi
  if [ ! -s "$pgdata/PG_VERSION" ]; then
    log "Postgres: creating a private cluster in $pgdata"
    "${run[@]}" "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 >"$HAIL_DATA_DIR/initdb.log" 2>&1 \
      || die "initdb failed; see $HAIL_DATA_DIR/initdb.log"
  fi
  log "Postgres: starting a private server on 127.0.0.1:$PRIVATE_PG_PORT"
  "${run[@]}" "$bindir/pg_ctl" -D "$pgdata" -l "$HAIL_DATA_DIR/postgres.log" -w -t 30 \
    -o "-p $PRIVATE_PG_PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null \
    || die "Postgres did not start; see $HAIL_DATA_DIR/postgres.log"
}

ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    local host port
    read -r host port <<<"$(url_host_port "$REDIS_URL" 6379)"
    port_open "$host" "$port" || die "nothing answers at REDIS_URL ($host:$port). Start Redis there, or unset REDIS_URL to let this script start a private one."
    log "Redis: using REDIS_URL ($host:$port)"
    return
  fi
  if port_open 127.0.0.1 6379; then
    export REDIS_URL=redis://127.0.0.1:6379
    log "Redis: using the local server on 127.0.0.1:6379"
    return
  fi
  export REDIS_URL=redis://127.0.0.1:$PRIVATE_REDIS_PORT
  if port_open 127.0.0.1 $PRIVATE_REDIS_PORT; then
    log "Redis: using the private server on 127.0.0.1:$PRIVATE_REDIS_PORT"
    return
  fi
  command -v redis-server >/dev/null \
    || apt_install "Redis" "apt-get install redis-server, or brew install redis" REDIS_URL redis-server
  mkdir -p "$HAIL_DATA_DIR/redis"
  log "Redis: starting a private server on 127.0.0.1:$PRIVATE_REDIS_PORT"
  redis-server --port $PRIVATE_REDIS_PORT --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    --dir "$HAIL_DATA_DIR/redis" --logfile "$HAIL_DATA_DIR/redis.log" --pidfile "$HAIL_DATA_DIR/redis.pid" >/dev/null \
    || die "Redis did not start; see $HAIL_DATA_DIR/redis.log"
  wait_for_port 127.0.0.1 $PRIVATE_REDIS_PORT 10 || die "Redis did not start; see $HAIL_DATA_DIR/redis.log"
}

# The fault tests start, kill and restart Redis and Postgres servers of their
# own (never the shared ones): they need the server programs here.
ensure_fault_tools() {
  command -v redis-server >/dev/null \
    || apt_install "redis-server (for the fault tests)" "apt-get install redis-server" "" redis-server
  if [ -z "$(pg_bindir)" ]; then
    apt_install "PostgreSQL's initdb (for the fault tests)" "apt-get install postgresql" "" postgresql
  fi
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  fi
}
