#!/usr/bin/env bash
# HTML rewriting benchmark (issue 14 item 6): side by side in one run, on loopback, same
# upstream, same load. The upstream answers bench/rewrite/page.html, a 40 KB shop page with
# several tracker tags (PostHog, Mixpanel and Amplitude scripts and their inline inits, a
# tag-manager loader, a video iframe, a pixel, preconnect/preload links to tracker hosts),
# as identity-encoded text/html with three Set-Cookie headers. The inventory is
# bench/adoption/crumb.toml (those services declared).
#
#   direct             wrk -> upstream
#   nginx sub_filter   wrk -> nginx proxy_pass + sub_filter (banner tag after <head>, the
#                             four tracker script tags made inert by string substitution)
#   crumb rewrite      wrk -> crumb proxy --inject-banner, visitor without a decision: banner tag,
#                             first layer rendered after <body>, trackers' tags held (lol_html)
#   crumb inject-only  wrk -> crumb proxy --inject-banner --no-rewrite-html (today's injector: banner tag only)
#   crumb granted      wrk -> the "crumb rewrite" proxy, visitor who granted everything: nothing held,
#                             only the banner tag inserted (to change or withdraw the choice)
#   crumb no HTML      wrk -> crumb proxy without --inject-banner (Set-Cookie filtering only, fast path)
#
# Usage: bench/rewrite/run.sh   (DURATION=5 ROUNDS=3 CONNS=32 THREADS=1; SKIP_BUILD=1 uses the
# release binaries already in target/release)
# Results are printed and written to docs/benchmarks.md under "## HTML rewriting".
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
UP=${UP_PORT:-18480}
NGINX_PORT=$((UP + 1)); REWRITE=$((UP + 2)); INJECT=$((UP + 3)); PLAIN=$((UP + 4))
PAGE=$ROOT/bench/rewrite/page.html
INV=$ROOT/bench/adoption/crumb.toml

for t in wrk curl; do command -v $t >/dev/null || { echo "$t is not installed (apt-get install $t)" >&2; exit 1; }; done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is not installed (apt-get install nginx-light)" >&2; exit 1; }

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "building release binaries" >&2
  cargo build --release -q --locked -p crumb-cli --bin crumb
  cargo build --release -q --locked -p crumb-guard --example bench_upstream
fi
BIN=$ROOT/target/release

TMP=$(mktemp -d /tmp/crumb-bench-rewrite.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  rm -rf "$TMP"
}
trap cleanup EXIT
wait_port() {
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listening on port $1" >&2; exit 1
}

"$BIN/examples/bench_upstream" "127.0.0.1:$UP" "$PAGE" >"$TMP/upstream.log" 2>&1 & PIDS+=($!); UP_PID=$!
wait_port "$UP"

# nginx: the same work by string substitution (what a site owner can do without Crumb).
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  upstream site { server 127.0.0.1:$UP; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://site;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Accept-Encoding "";
      sub_filter_once off;
      sub_filter_types text/html;
      sub_filter '<head>' '<head><script async src="/s/shop/banner.js"></script>';
      sub_filter '<script src="https://us-assets.i.posthog.com' '<script type="text/plain" data-crumb-category="analytics" src="https://us-assets.i.posthog.com';
      sub_filter '<script src="https://cdn.mxpnl.com' '<script type="text/plain" data-crumb-category="analytics" src="https://cdn.mxpnl.com';
      sub_filter '<script src="https://cdn.amplitude.com' '<script type="text/plain" data-crumb-category="analytics" src="https://cdn.amplitude.com';
      sub_filter '<script>posthog.init(' '<script type="text/plain" data-crumb-category="analytics">posthog.init(';
    }
  }
}
CONF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx.conf" & PIDS+=($!); NGINX_PID=$!
wait_port "$NGINX_PORT"

crumb_proxy() { # PORT ARGS...
  local port=$1; shift
  RUST_LOG=warn "$BIN/crumb" proxy --upstream "http://127.0.0.1:$UP" --config "$INV" --listen "127.0.0.1:$port" "$@" \
    >"$TMP/crumb-$port.log" 2>&1 & PIDS+=($!)
}
crumb_proxy "$REWRITE" --inject-banner /s/shop/banner.js; REWRITE_PID=$!
crumb_proxy "$INJECT" --inject-banner /s/shop/banner.js --no-rewrite-html; INJECT_PID=$!
crumb_proxy "$PLAIN"; PLAIN_PID=$!
for p in "$REWRITE" "$INJECT" "$PLAIN"; do wait_port "$p"; done

GRANTED="crumb_consent=1.-.v.analytics~marketing.$(date +%s)"
# Sanity: each target does what its row says.
curl -s "http://127.0.0.1:$REWRITE/" | grep -c 'type="text/plain" data-crumb-category="analytics"' >/dev/null || { echo "crumb did not hold" >&2; exit 1; }
curl -s "http://127.0.0.1:$REWRITE/" | grep -Ec 'id="?crumb[" >]' >/dev/null || { echo "crumb rendered no first layer" >&2; exit 1; }
# A visitor who granted everything keeps the banner tag (to change or withdraw the choice), nothing else.
curl -s -H "Cookie: $GRANTED" "http://127.0.0.1:$REWRITE/" | sed 's#<script src="/s/shop/banner.js"></script>##' | cmp -s - "$PAGE" || { echo "granted visitor's page was changed beyond the banner tag" >&2; exit 1; }
curl -s "http://127.0.0.1:$INJECT/" | grep -c 'banner.js' >/dev/null || { echo "crumb did not inject" >&2; exit 1; }
curl -s "http://127.0.0.1:$INJECT/" | grep -c 'data-crumb-category' >/dev/null && { echo "inject-only rewrote tags" >&2; exit 1; }
curl -s "http://127.0.0.1:$NGINX_PORT/" | grep -c 'data-crumb-category="analytics" src="https://cdn.mxpnl.com' >/dev/null || { echo "nginx did not substitute" >&2; exit 1; }
SIZES="direct $(curl -s "http://127.0.0.1:$UP/" | wc -c) B, nginx $(curl -s "http://127.0.0.1:$NGINX_PORT/" | wc -c) B, crumb rewrite $(curl -s "http://127.0.0.1:$REWRITE/" | wc -c) B, inject-only $(curl -s "http://127.0.0.1:$INJECT/" | wc -c) B"

cpu_ticks() {
  local p q u=0 s=0 f
  for p in "$@"; do
    for q in $p $(pgrep -P "$p" || true); do
      [ -r "/proc/$q/stat" ] || continue
      read -r -a f < <(sed 's/.*) //' "/proc/$q/stat")
      u=$((u + f[11])); s=$((s + f[12]))
    done
  done
  echo "$((u + s))"
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
declare -A PORT=([direct]=$UP [nginx]=$NGINX_PORT [rewrite]=$REWRITE [inject]=$INJECT [granted]=$REWRITE [plain]=$PLAIN)
declare -A CPID=([direct]=$UP_PID [nginx]=$NGINX_PID [rewrite]=$REWRITE_PID [inject]=$INJECT_PID [granted]=$REWRITE_PID [plain]=$PLAIN_PID)
declare -A ALL CPUS
NAMES="direct nginx rewrite inject granted plain"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
run() {
  local name=$1 hdr=() c0 c1 out n rps
  [ "$name" = granted ] && hdr=(-H "Cookie: $GRANTED")
  c0=$(cpu_ticks "${CPID[$name]}")
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" "${hdr[@]}" "http://127.0.0.1:${PORT[$name]}/")
  c1=$(cpu_ticks "${CPID[$name]}")
  if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then echo "$name: errors:" >&2; echo "$out" | grep 'Non-2xx\|Socket errors' >&2; fi
  n=$(echo "$out" | awk '/requests in/ { print $1 }')
  rps=$(echo "$out" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
  ALL[$name]="${ALL[$name]:-} $rps"
  CPUS[$name]="${CPUS[$name]:-} $(awk -v c=$((c1 - c0)) -v n="$n" -v t="$TICK_US" 'BEGIN { printf "%.0f", (n > 0 ? c * t / n : 0) }')"
  echo "$name: $rps req/s" >&2
}
median() { echo "$1" | tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }
for name in $NAMES; do
  hdr=(); [ "$name" = granted ] && hdr=(-H "Cookie: $GRANTED")
  wrk -t"$THREADS" -c"$CONNS" -d2s "${hdr[@]}" "http://127.0.0.1:${PORT[$name]}/" >/dev/null 2>&1
done
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for name in $NAMES; do run "$name"; done
done
declare -A RPS CPU
for name in $NAMES; do RPS[$name]=$(median "${ALL[$name]}"); CPU[$name]=$(median "${CPUS[$name]}"); done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
row() { echo "| $1 | ${RPS[$2]} | $(ratio "${RPS[$2]}" "${RPS[nginx]}") | ${CPU[$2]} |${ALL[$2]} |"; }

CPUNAME=$(awk -F: '/model name/ { gsub(/^ +/, "", $2); print $2; exit }' /proc/cpuinfo)
SECTION=$(cat <<MD
## HTML rewriting

\`bench/rewrite/run.sh\`, $(date -u +"%Y-%m-%d %H:%M UTC"), $CPUNAME ($(nproc) cores shared by wrk, upstream and
proxies, and with other jobs: load average before the run $LOAD_BEFORE), loopback. wrk 4.1, $THREADS thread, $CONNS
connections, targets interleaved, $ROUNDS rounds of ${DURATION} s after a 2 s warm-up; the median round shown.
Page: \`bench/rewrite/page.html\` (40 KB, PostHog, Mixpanel and Amplitude script tags and inits, a tag
manager loader, an iframe, a pixel, preconnect/preload to tracker hosts), identity-encoded, answered by
\`crates/crumb-guard/examples/bench_upstream.rs\`; inventory \`bench/adoption/crumb.toml\`; nginx
$("$NGINX" -v 2>&1 | sed 's/.*nginx\///') (\`worker_processes auto\`), \`crumb proxy\` release build. Response sizes: $SIZES.

| target | requests/s (median) | vs nginx sub_filter | proxy CPU µs per request (user+kernel) | every round (req/s) |
|---|---:|---:|---:|---|
$(row "direct (no proxy)" direct)
$(row "nginx \`proxy_pass\` + \`sub_filter\` (banner tag + 4 tags made inert by substitution)" nginx)
$(row "\`crumb proxy --inject-banner\`, visitor without a decision (tags held, first layer rendered)" rewrite)
$(row "\`crumb proxy --inject-banner --no-rewrite-html\` (injection only)" inject)
$(row "\`crumb proxy --inject-banner\`, visitor who granted everything (nothing held, banner tag only)" granted)
$(row "\`crumb proxy\` without HTML work (Set-Cookie filtering only)" plain)

What nginx does here is less than Crumb does: string substitution of four exact tag prefixes (it
misses reordered attributes, the iframe, the pixel and the preloads, and cannot tell a visitor who
granted from one who did not), no first layer. Target (issue 14): Crumb rewriting >= 1.0x nginx;
this run: $(ratio "${RPS[rewrite]}" "${RPS[nginx]}")x. Rewriting vs injection only: $(ratio "${RPS[rewrite]}" "${RPS[inject]}")x. A granted
visitor vs no HTML work at all: $(ratio "${RPS[granted]}" "${RPS[plain]}")x (vs injection only: $(ratio "${RPS[granted]}" "${RPS[inject]}")x).
MD
)
echo "$SECTION"
python3 - "$ROOT/docs/benchmarks.md" "$SECTION" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
doc = open(path).read()
pattern = re.compile(r"^## HTML rewriting\n.*?(?=^## |\Z)", re.S | re.M)
if pattern.search(doc):
    doc = pattern.sub(lambda _: section.rstrip() + "\n\n", doc)
else:
    doc = doc.rstrip() + "\n\n" + section.rstrip() + "\n"
open(path, "w").write(doc.rstrip() + "\n")
PY
echo "written to docs/benchmarks.md" >&2
