#!/usr/bin/env bash
# Property-based API test: schemathesis (pinned, installed into .hail/venv
# when missing) generates requests from /api/v1/openapi.json and runs them
# against a stack this script starts itself, once with a rider's token and
# once with a driver's. It fails on any 5xx and on any response that breaks
# the documented schema or status codes. The stack is stopped and its
# database dropped at the end, also on failure.
#
# Env: ST_MAX_EXAMPLES (per operation, default 50), ST_SEED (replay a run).
# Run on its own after `cargo build --bin hail`; scripts/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/provision.sh
source scripts/lib/stack.sh

SCHEMATHESIS_VERSION=4.32.5
VENV=$HAIL_DATA_DIR/venv
ST=$VENV/bin/schemathesis

# The newest Python 3.12+ there is, else python3. CPython 3.11 sometimes
# fails inside Hypothesis ("AST constructor recursion depth mismatch").
pick_python() {
  local candidate
  for candidate in ${HAIL_PYTHON:-} python3.13 python3.12 \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V | tail -n 1) python3; do
    # Run it: a pyenv shim exists for versions that are not active.
    if "$candidate" -c 'import sys, venv; print(sys.executable)' 2>/dev/null; then
      return 0
    fi
  done
  return 1
}

ensure_schemathesis() {
  local python
  python=$(pick_python) || apt_install "python3" "apt-get install python3 python3-venv" "" python3 python3-venv
  python=$(pick_python)
  local want
  want=$("$python" --version 2>&1)
  if [ -x "$ST" ] && [ "$("$VENV/bin/python" --version 2>&1)" = "$want" ] \
    && "$ST" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
    return 0
  fi
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV with $want (from PyPI, once)"
  if ! "$python" -m venv --clear "$VENV" >/dev/null 2>&1; then
    apt_install "python3-venv" "apt-get install python3-venv" "" python3-venv
    "$python" -m venv --clear "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    || die "pip could not install schemathesis $SCHEMATHESIS_VERSION (is PyPI reachable?)"
}

# Registers an account with role $1 and prints its token.
token_for() {
  curl -fsS "$STACK_URL/api/v1/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"st-$1-$RANDOM$RANDOM@example.com\",\"password\":\"schemathesis-pass\",\"name\":\"ST $1\",\"role\":\"$1\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

ensure_postgres
ensure_redis
ensure_schemathesis
export HAIL_BIN=${HAIL_BIN:-${CARGO_TARGET_DIR:-$HAIL_ROOT/target}/debug/hail}
[ -x "$HAIL_BIN" ] || cargo build --locked --bin hail

# The fuzzer sends thousands of requests from one IP and user: lift the limits.
for name in USER IP AUTH LOGIN_EMAIL; do
  export "HAIL_RATE_LIMIT_${name}_PER_MIN=1000000" "HAIL_RATE_LIMIT_${name}_BURST=1000000"
done
# Short waits, so the stack's background work stays small.
export HAIL_MATCH_DEADLINE_SECS=${HAIL_MATCH_DEADLINE_SECS:-5} HAIL_OFFER_TIMEOUT_SECS=${HAIL_OFFER_TIMEOUT_SECS:-3}
stack_start st

rider=$(token_for rider)
driver=$(token_for driver)
# Every route of the contract is fuzzed. A generic 404 is a documented
# answer for rooms (a room whose departure passed), so a stack that does not
# serve the rooms routes at all would pass unnoticed: that fails the run.
if curl -s "$STACK_URL/api/v1/rooms/Westie:mon:08:00" -H "authorization: Bearer $rider" | grep -q 'no such route'; then
  die "the stack does not serve /api/v1/rooms, which the contract has; see $STACK_LOG"
fi

status=0
for who in rider driver; do
  token=$rider
  [ "$who" = driver ] && token=$driver
  log "schemathesis as a $who (max ${ST_MAX_EXAMPLES:-50} examples per operation)"
  # From .hail, where schemathesis keeps its example database.
  (cd "$HAIL_DATA_DIR" && "$ST" run "$STACK_URL/api/v1/openapi.json" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${ST_MAX_EXAMPLES:-50}" \
    ${ST_SEED:+--seed "$ST_SEED"} \
    --workers 2 \
    --request-timeout 15 \
    --header "Authorization: Bearer $token" \
    --report junit --report-dir "$HAIL_DATA_DIR/schemathesis-$who" \
    --suppress-health-check all) || status=$?
done
if [ "$status" != 0 ]; then
  warn "schemathesis found problems (above); the stack's log is $STACK_LOG"
fi
exit "$status"
