#!/usr/bin/env bash
# run.sh PORT [measure.mjs options...]
#
# 1. installs the exact peer versions into ./node_modules (npm registry only),
# 2. starts the static server (server.mjs) on 127.0.0.1:PORT, serving this directory,
# 3. runs measure.mjs with config.json (functional verification, then the measurements),
# 4. stops the server (also on failure or Ctrl-C).
#
# Extra arguments go to measure.mjs, e.g.:  ./run.sh 8765 --runs 7
#                                           ./run.sh 8765 --verify-only
#                                           ./run.sh 8765 --only "baseline (no banner),orejime 3.2.1"
# Environment: CHROMIUM (default: `command -v chromium`),
#              PLAYWRIGHT_CORE (default: ./node_modules/playwright-core, installed from package-lock.json)
#              CRUMB (the release crumb binary; default: target/release/crumb of this repository)
# Writes only below this directory (npm cache in .npm-cache/, Chromium XDG dirs in .xdg/, results/).
set -euo pipefail

PORT="${1:?usage: $0 PORT [measure.mjs options]}"
shift
case "$PORT" in (*[!0-9]*|'') echo "PORT must be a number" >&2; exit 2;; esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

export CHROMIUM="${CHROMIUM:-$(command -v chromium || true)}"
[ -n "$CHROMIUM" ] && [ -x "$CHROMIUM" ] || { echo "Chromium not found; set CHROMIUM=/path/to/chromium" >&2; exit 1; }

# Keep every write under this directory (i.e. under /tmp): npm's cache and logs, and the
# XDG config/cache/runtime dirs Chromium would otherwise touch in $HOME (crash-report settings, dconf).
export npm_config_cache="$HERE/.npm-cache"
export npm_config_update_notifier=false
export XDG_CONFIG_HOME="$HERE/.xdg/config" XDG_CACHE_HOME="$HERE/.xdg/cache" XDG_RUNTIME_DIR="$HERE/.xdg/runtime"
mkdir -p "$npm_config_cache" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

echo "== installing exact peer versions (package-lock.json)"
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --ignore-scripts
export PLAYWRIGHT_CORE="${PLAYWRIGHT_CORE:-$HERE/node_modules/playwright-core/index.mjs}"
[ -f "$PLAYWRIGHT_CORE" ] || { echo "playwright-core not found at $PLAYWRIGHT_CORE (set PLAYWRIGHT_CORE)" >&2; exit 1; }
node -e '
  const want = { "vanilla-cookieconsent": "3.1.0", klaro: "0.7.22", orejime: "3.2.1" };
  for (const [n, v] of Object.entries(want)) {
    const got = require(`./node_modules/${n}/package.json`).version;
    if (got !== v) { console.error(`${n}: installed ${got}, expected ${v}`); process.exit(1); }
    console.log(`   ${n}@${got}`);
  }'

mkdir -p results
echo "== starting static server on http://127.0.0.1:$PORT/"
node server.mjs "$PORT" "$HERE" > results/server.log 2>&1 &
SERVER_PID=$!
cleanup() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    echo "== static server stopped"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 100); do
  grep -q '^serving' results/server.log 2>/dev/null && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "static server failed to start:" >&2
    cat results/server.log >&2
    exit 1
  fi
  sleep 0.1
done
grep -q '^serving' results/server.log || { echo "static server not ready" >&2; exit 1; }
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/pages/baseline.html"

export CRUMB="${CRUMB:-$(cd "$HERE/../.." && pwd)/target/release/crumb}"
[ -x "$CRUMB" ] || { echo "no crumb binary at $CRUMB: cargo build --release -p crumb-cli" >&2; exit 1; }
echo "== measuring (chromium: $CHROMIUM)"
node measure.mjs --config config.json --port "$PORT" "$@"
