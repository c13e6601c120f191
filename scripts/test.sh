#!/usr/bin/env bash
# Runs every test: formatting and lints, then the unit and integration tests
# against real Postgres and Redis (private ones are started when none answer),
# then the web apps: typecheck, unit tests, build, and a browser test (Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/provision.sh
source scripts/lib/frontend.sh
source scripts/lib/cluster.sh

ensure_toolchain
ensure_node
ensure_postgres
ensure_redis
ensure_fault_tools

log "checking formatting"
cargo fmt --all -- --check || die "run 'cargo fmt --all' and commit the result"
log "linting (clippy, warnings are errors)"
cargo clippy --locked --workspace --all-targets --quiet -- -D warnings
log "running the Rust tests (each test gets its own database and Redis prefix; tests/cluster.rs starts Redis Clusters and fleets of its own)"
cargo test --locked --workspace
log "running the matching, claim, race, rooms, events and realtime suites again, on a Redis Cluster"
start_redis_cluster
trap stop_redis_cluster EXIT
HAIL_REDIS_CLUSTER=true REDIS_URL="$HAIL_CLUSTER_URL" \
  cargo test --locked -p hail-driver -p hail-trip -p hail-gateway --test api -- \
  location:: cities:: index_order:: internal:: matching:: claims:: races:: rooms:: events:: dispatch:: lifecycle:: realtime:: pings:: delivery:: pickup:: trip_steps::
stop_redis_cluster
trap - EXIT
log "building hail (for the browser test and the API fuzzing)"
cargo build --locked --bin hail
frontend_test
log "fuzzing the API from its OpenAPI document (schemathesis, about a minute)"
./scripts/schemathesis.sh
