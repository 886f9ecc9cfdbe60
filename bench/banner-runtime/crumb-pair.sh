#!/usr/bin/env bash
# crumb-pair.sh CRUMB_BINARY SERVE_PORT PROXY_PORT UPSTREAM_PORT  (run in crumb-site/)
# One `crumb serve` (the banner and the consent API) and one `crumb proxy` in front of the
# harness's static server that injects that serve's banner: config.before-after.json starts one
# pair per crumb binary. The proxy runs in the foreground; both stop with its process group.
set -euo pipefail
BIN="$1" SPORT="$2" PPORT="$3" UPSTREAM="$4"
mkdir -p ".crumb-data/$SPORT"
"$BIN" serve --config harbour.toml --dev --rate-limit 0 --data-dir ".crumb-data/$SPORT" --listen "127.0.0.1:$SPORT" &
for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$SPORT/healthz" && break; sleep 0.1; done
exec "$BIN" proxy --upstream "http://127.0.0.1:$UPSTREAM" --config harbour.toml --listen "127.0.0.1:$PPORT" \
  --inject-banner "http://127.0.0.1:$SPORT/s/harbour/banner.js"
