#!/usr/bin/env bash
# Regenerates .sqlx/, the query data that lets `sqlx::query!` check SQL at
# compile time without a database. Run it after changing a query or a
# migration, and commit .sqlx/. Needs a Postgres (DATABASE_URL's server).
set -euo pipefail
cd "$(dirname "$0")/.."
admin_url=${HAIL_SQLX_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=hail_sqlx

echo "==> recreating database $db with every service's migrations"
psql "$admin_url" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
db_url=${admin_url%/*}/$db
for svc in user driver trip; do
  psql "$db_url" -qX -v ON_ERROR_STOP=1 -c "CREATE SCHEMA \"$svc\""
  for f in migrations/$svc/*.sql; do
    PGOPTIONS="-c search_path=\"$svc\"" psql "$db_url" -qX -v ON_ERROR_STOP=1 -f "$f"
  done
done

echo "==> checking every query against it"
rm -rf .sqlx && mkdir .sqlx
# Every schema on the search path, so unqualified table names resolve as they
# do at run time through each service's own pool.
export DATABASE_URL="$db_url?options=-c%20search_path%3D%22user%22%2Cdriver%2Ctrip"
export SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$PWD/.sqlx"
touch services/*/src/lib.rs shared/src/lib.rs
cargo check --workspace --all-targets --quiet
echo "==> wrote $(ls .sqlx | wc -l) query files to .sqlx/"
