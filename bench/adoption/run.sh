#!/usr/bin/env bash
# Zero-edit adoption, measured: a Django shop with real, unmodified tracker tags (PostHog,
# Mixpanel and Amplitude from npm, a tag manager on another site), scanned by `crumb scan`
#
#   direct   the shop as it is (no Crumb)
#   proxy    behind `crumb proxy --inject-banner` with the inventory bench/adoption/crumb.toml,
#            no HTML edited
#
# and reports the consent findings of each scan (set_before_consent, set_after_reject, ...)
# and the requests the tracker hosts received. Everything stays on loopback: Chromium maps
# the trackers' real host names to bench/adoption/cloud.py (--host-resolver-rules) and
# accepts its self-signed certificate. Installs the npm packages (package-lock.json) and
# Django (requirements.txt) on first run.
#
# Usage: bench/adoption/run.sh   (writes bench/adoption/results.md; the scan reports stay in bench/adoption/out/)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/bench/adoption
CLOUD=${CLOUD_PORT:-18380}
SHOP=$((CLOUD + 1))
SERVE=$((CLOUD + 2))
PROXY=$((CLOUD + 3))
TMP=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

[ -d "$HERE/node_modules" ] || (cd "$HERE" && npm ci --ignore-scripts --no-audit --no-fund --silent)
[ -d "$HERE/.python" ] || python3 -m pip install --quiet --target "$HERE/.python" -r "$HERE/requirements.txt"
CHROMIUM=${CRUMB_CHROMIUM:-$(command -v chromium)}
cargo build --quiet --locked -p crumb-cli
CRUMB=$ROOT/target/debug/crumb

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=trackers -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
python3 "$HERE/cloud.py" "$CLOUD" "$HERE/node_modules" "$TMP/cloud.log" "$TMP/cert.pem" "$TMP/key.pem" & pids+=($!)
PYTHONPATH="$HERE/.python" python3 "$HERE/shop/shop.py" "$SHOP" "$CLOUD" "$HERE/node_modules" & pids+=($!)
"$CRUMB" serve --dev --listen "127.0.0.1:$SERVE" --rate-limit 0 --config "$HERE/crumb.toml" --data-dir "$TMP/data" 2>"$TMP/serve.log" & pids+=($!)
"$CRUMB" proxy --upstream "http://127.0.0.1:$SHOP" --config "$HERE/crumb.toml" --listen "127.0.0.1:$PROXY" \
  --inject-banner "http://127.0.0.1:$SERVE/s/shop/banner.js" 2>"$TMP/proxy.log" & pids+=($!)

rules=""
for h in us.i.posthog.com us-assets.i.posthog.com cdn.mxpnl.com api-js.mixpanel.com cdn.amplitude.com api2.amplitude.com; do
  rules+="MAP $h 127.0.0.1:$CLOUD,"
done
cat > "$TMP/chromium" <<WRAP
#!/bin/sh
exec "$CHROMIUM" --host-resolver-rules="${rules%,}" --ignore-certificate-errors "\$@"
WRAP
chmod +x "$TMP/chromium"

for port in "$CLOUD" "$SHOP" "$SERVE" "$PROXY"; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

scan() { # name url
  : > "$TMP/cloud.log"
  "$CRUMB" scan "$2" --inventory "$HERE/crumb.toml" --chromium "$TMP/chromium" --max-pages 3 \
    --format json -o "$TMP/$1.json" >/dev/null 2>"$TMP/$1.err" || true
  cp "$TMP/cloud.log" "$TMP/$1.requests"
  mkdir -p "$HERE/out" && cp "$TMP/$1.json" "$TMP/$1.requests" "$HERE/out/" 2>/dev/null || true
}
scan direct "http://127.0.0.1:$SHOP/"
scan proxy "http://127.0.0.1:$PROXY/"

python3 - "$TMP" "$HERE/results.md" <<'PY'
import collections, datetime, json, os, platform, subprocess, sys
tmp, out = sys.argv[1], sys.argv[2]
rows = []
for name, label in (("direct", "the shop alone"), ("proxy", "behind `crumb proxy --inject-banner`, no HTML edited")):
    try:
        report = json.load(open(f"{tmp}/{name}.json"))
    except Exception as e:
        sys.exit(f"{name} scan failed: {e}\n" + open(f"{tmp}/{name}.err").read())
    kinds = collections.Counter(f["kind"] for f in report.get("findings", []))
    hosts = collections.Counter(json.loads(l)["host"] for l in open(f"{tmp}/{name}.requests") if l.strip())
    rows.append((label, kinds, hosts))
kinds = sorted({k for _, c, _ in rows for k in c})
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
lines = [f"`bench/adoption/run.sh`, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {cpu}, {os.cpu_count()} cores, "
         f"{subprocess.run(['chromium', '--version'], capture_output=True, text=True).stdout.strip()}, `crumb scan --max-pages 3`.", "",
         "| | " + " | ".join(f"`{k}`" for k in kinds) + " | tracker requests (by host) |",
         "|---|" + "---|" * len(kinds) + "---|"]
for label, c, h in rows:
    lines.append(f"| {label} | " + " | ".join(str(c.get(k, 0)) for k in kinds) + " | "
                 + (", ".join(f"{host} {n}" for host, n in sorted(h.items())) or "none") + " |")
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
PY
