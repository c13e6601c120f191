# The web apps' steps for scripts/run.sh and scripts/test.sh (sourced after
# provision.sh). Every step is skipped when its inputs have not changed, so
# re-runs cost a second or two.

FRONTEND_DIR=frontend
NODE_MIN_MAJOR=20

# Node.js >= 20 and npm, or a sentence saying how to get them.
ensure_node() {
  local major
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    die "Node.js $NODE_MIN_MAJOR or newer (with npm) is needed for the web apps and was not found. Install it (https://nodejs.org, or 'nvm install 22'), open a new shell, and run this again."
  fi
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -lt "$NODE_MIN_MAJOR" ]; then
    die "Node.js $(node --version) is too old for the web apps: $NODE_MIN_MAJOR or newer is needed. Install a newer one (https://nodejs.org, or 'nvm install 22') and run this again."
  fi
}

# Debian's chromium for the browser test (no browser download of its own).
ensure_chromium() {
  if [ -n "${CHROMIUM:-}" ]; then
    [ -x "$CHROMIUM" ] || die "CHROMIUM is set to $CHROMIUM, which is not an executable. Point it at a Chromium binary or unset it."
    return
  fi
  [ -x /usr/bin/chromium ] && return
  apt_install "Chromium (for the browser test)" "apt-get install chromium" CHROMIUM chromium
  [ -x /usr/bin/chromium ] || die "chromium was installed but /usr/bin/chromium is not there; set CHROMIUM to its path"
}

_frontend_hash() { # files... -> one hash of their names and contents
  (cd "$FRONTEND_DIR" && find "$@" -type f 2>/dev/null | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
}

# npm ci when node_modules is missing or package-lock.json changed since.
frontend_deps() {
  local want stamp=$FRONTEND_DIR/node_modules/.hail-lock-hash
  want=$(_frontend_hash package-lock.json package.json)
  if [ -d "$FRONTEND_DIR/node_modules" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  log "installing the web apps' packages (npm ci)"
  (cd "$FRONTEND_DIR" && npm ci --no-audit --no-fund --loglevel=error) \
    || die "npm ci failed in $FRONTEND_DIR (see above); check your network access to the npm registry and run this again"
  echo "$want" >"$stamp"
}

# npm run build when a source, the config or the packages changed since the
# last build.
frontend_build() {
  local want stamp=$FRONTEND_DIR/dist/.hail-build-hash
  frontend_deps
  want=$(_frontend_hash src index.html driver support package-lock.json vite.config.ts tsconfig.json)
  if [ -f "$FRONTEND_DIR/dist/index.html" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    log "web apps are up to date (frontend/dist)"
    return
  fi
  log "building the web apps (frontend/dist)"
  (cd "$FRONTEND_DIR" && npm run --silent build -- --logLevel warn) || die "the web apps did not build (see above)"
  echo "$want" >"$stamp"
}

# Typecheck, unit tests, build, then the browser test against a stack of its
# own (needs target/debug/hail; scripts/test.sh builds it first).
frontend_test() {
  ensure_node
  ensure_chromium
  frontend_deps
  log "web apps: typecheck (tsc --noEmit)"
  (cd "$FRONTEND_DIR" && npx --no-install tsc --noEmit) || die "the web apps do not typecheck (see above)"
  log "web apps: unit tests (vitest)"
  (cd "$FRONTEND_DIR" && npx --no-install vitest run) || die "the web apps' unit tests failed (see above)"
  frontend_build
  log "web apps: end-to-end test in headless Chromium (screenshots in test-output/e2e/)"
  HAIL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/hail" node "$FRONTEND_DIR/e2e/run.mjs" \
    || die "the browser test failed; see its steps above, test-output/e2e/*.png and test-output/e2e/hail.log"
}
