#!/usr/bin/env bash
# Builds and runs all of Hail: the four services in one process, the web apps
# on http://localhost:3000 (passenger at /, driver at /driver/, built first when
# their sources changed). Starts private Postgres and Redis when none answer.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/provision.sh
source scripts/lib/frontend.sh

ensure_toolchain
ensure_node
ensure_postgres
ensure_redis
export HAIL_ENV=${HAIL_ENV:-dev}

log "building hail (the first build takes a few minutes)"
cargo build --locked --bin hail
frontend_build
log "applying migrations"
./target/debug/hail migrate

port=${HAIL_GATEWAY_PORT:-3000}
cat <<TXT

  Hail is starting (HAIL_ENV=$HAIL_ENV). Stop it with Ctrl-C.

    Passenger   http://localhost:$port/
    Driver      http://localhost:$port/driver/
    API         http://localhost:$port/api/v1   (walkthrough in README.md)
    Health      http://localhost:$port/healthz   http://localhost:$port/readyz
    Metrics     http://localhost:$port/metrics

TXT
exec ./target/debug/hail serve all
