#!/usr/bin/env bash
# Proxy benchmark: side by side in one run, on loopback, same upstream, same load.
#
#   direct            wrk -> upstream
#   nginx             wrk -> nginx proxy_pass (keepalive upstream pool) -> upstream
#   crumb             wrk -> crumb proxy (filtering on, injection off: the HTTP/1.1 fast path) -> upstream
#   crumb-hyper       wrk -> crumb proxy --no-fast-path (filtering on, every request through hyper) -> upstream
#   crumb+inject      wrk -> crumb proxy (filtering on, --inject-banner: the hyper path) -> upstream
#
# The upstream (crates/crumb-guard/examples/bench_upstream.rs) answers a 2 KB HTML page
# with three Set-Cookie headers (necessary, analytics, undeclared); requests carry no
# consent cookie, so crumb drops the analytics cookie on every response.
# Then the Set-Cookie filter micro-benchmark (time and allocations per call).
# Results are printed and written to docs/benchmarks.md under "## Proxy".
#
# Usage: bench/proxy/run.sh   (DURATION=5 ROUNDS=3 CONNS=32 THREADS=1 to change the load)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
UP_PORT=${UP_PORT:-18180}
NGINX_PORT=$((UP_PORT + 1))
CRUMB_PORT=$((UP_PORT + 2))
INJECT_PORT=$((UP_PORT + 3))
HYPER_PORT=$((UP_PORT + 4))

install() {
  if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$1" ]; then
    echo "installing $2 from apt" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y -q "$2" >/dev/null; else sudo apt-get install -y -q "$2" >/dev/null; fi
  fi
}
install wrk wrk
install nginx nginx-light
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "building release binaries" >&2
cargo build --release -q -p crumb-cli --bin crumb
cargo build --release -q -p crumb-guard --example bench_upstream --example filter_bench
BIN=$ROOT/target/release

TMP=$(mktemp -d /tmp/crumb-bench-proxy.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$TMP/nginx.pid" ]; then kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true; fi
  sleep 0.3
  rm -rf "$TMP"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listening on port $1" >&2
  exit 1
}

"$BIN/examples/bench_upstream" "127.0.0.1:$UP_PORT" >"$TMP/upstream.log" 2>&1 &
PIDS+=($!)
wait_port "$UP_PORT"

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
  upstream site { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://site;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host;
    }
  }
}
CONF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx.conf" &
PIDS+=($!)
NGINX_PID=$!
wait_port "$NGINX_PORT"

INV=$ROOT/examples/leadsgen.toml
RUST_LOG=crumb_guard=info,crumb_proxy=info "$BIN/crumb" proxy --upstream "http://127.0.0.1:$UP_PORT" --config "$INV" \
  --listen "127.0.0.1:$CRUMB_PORT" >"$TMP/crumb.log" 2>&1 &
PIDS+=($!)
RUST_LOG=crumb_guard=info,crumb_proxy=info "$BIN/crumb" proxy --upstream "http://127.0.0.1:$UP_PORT" --config "$INV" \
  --listen "127.0.0.1:$INJECT_PORT" --inject-banner "/s/leadsgen/banner.js" >"$TMP/crumb-inject.log" 2>&1 &
PIDS+=($!)
INJECT_PID=${PIDS[-1]}
CRUMB_PID=${PIDS[-2]}
RUST_LOG=crumb_guard=info,crumb_proxy=info "$BIN/crumb" proxy --upstream "http://127.0.0.1:$UP_PORT" --config "$INV" \
  --listen "127.0.0.1:$HYPER_PORT" --no-fast-path >"$TMP/crumb-hyper.log" 2>&1 &
PIDS+=($!)
HYPER_PID=$!
UP_PID=${PIDS[0]}
wait_port "$CRUMB_PORT"
wait_port "$INJECT_PORT"
wait_port "$HYPER_PORT"
declare -A CPU_PIDS=([direct]=$UP_PID [nginx]=$NGINX_PID [crumb]=$CRUMB_PID [crumb-hyper]=$HYPER_PID [crumb+inject]=$INJECT_PID)

# Sanity: crumb really filters and injects.
curl -si "http://127.0.0.1:$CRUMB_PORT/" | grep -qi '^set-cookie: _plausible' && { echo "crumb did not filter" >&2; exit 1; }
curl -si "http://127.0.0.1:$HYPER_PORT/" | grep -qi '^set-cookie: _plausible' && { echo "crumb (hyper path) did not filter" >&2; exit 1; }
curl -s "http://127.0.0.1:$INJECT_PORT/" | grep -q 'banner.js' || { echo "crumb did not inject" >&2; exit 1; }
curl -si "http://127.0.0.1:$NGINX_PORT/" | grep -qi '^set-cookie: _plausible' || { echo "nginx does not reach the upstream" >&2; exit 1; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# wrk prints latency in us/ms/s; normalise to milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }

# The machine is shared: run the targets interleaved, ROUNDS times, and report the median
# round of each (by requests/s), so a burst of background load does not hit one target only.
# CPU time (user and kernel, clock ticks) of processes and their children: what each target
# spends per request is what decides throughput when everything shares the cores.
cpu_ticks() { # PID... -> "user system"
  local p q u=0 s=0 f
  for p in "$@"; do
    for q in $p $(pgrep -P "$p" || true); do
      [ -r "/proc/$q/stat" ] || continue
      read -r -a f < <(sed 's/.*) //' "/proc/$q/stat")
      u=$((u + f[11])); s=$((s + f[12]))
    done
  done
  echo "$u $s"
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
declare -A RPS P99 ALL CPU_ALL CPU
run() {
  local name=$1 port=$2 out rps p99 u0 s0 u1 s1 n
  read -r u0 s0 < <(cpu_ticks ${CPU_PIDS[$name]})
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/")
  read -r u1 s1 < <(cpu_ticks ${CPU_PIDS[$name]})
  n=$(echo "$out" | awk '/requests in/ { print $1 }')
  CPU_ALL[$name]="${CPU_ALL[$name]:-} $(awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v n="$n" -v t="$TICK_US" \
    'BEGIN { if (n > 0) printf "%.1f/%.1f", u * t / n, s * t / n; else print "0/0" }')"
  if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then
    echo "$name: errors during the run:" >&2
    echo "$out" | grep 'Non-2xx\|Socket errors' >&2
  fi
  rps=$(echo "$out" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
  p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" { print $2 }')")
  ALL[$name]="${ALL[$name]:-} $rps:$p99"
  echo "$name: $rps req/s, p99 $p99 ms" >&2
}
median_of() { # LIST SEPARATOR FIELD -> the median of that field over the list's items
  echo "$1" | tr ' ' '\n' | grep . | cut -d"$2" -f"$3" | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}
for port in "$UP_PORT" "$NGINX_PORT" "$CRUMB_PORT" "$HYPER_PORT" "$INJECT_PORT"; do
  wrk -t"$THREADS" -c"$CONNS" -d2s "http://127.0.0.1:$port/" >/dev/null 2>&1 # warm-up
done
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  run direct "$UP_PORT"
  run nginx "$NGINX_PORT"
  run crumb "$CRUMB_PORT"
  run crumb-hyper "$HYPER_PORT"
  run crumb+inject "$INJECT_PORT"
done
for name in direct nginx crumb crumb-hyper crumb+inject; do
  RPS[$name]=$(median_of "${ALL[$name]}" : 1)
  # p99: the median of the rounds' p99s (one round's tail is the noisiest number here).
  P99[$name]=$(median_of "${ALL[$name]}" : 2)
  # CPU per request: the median over the rounds of user and of kernel time separately.
  CPU[$name]="$(median_of "${CPU_ALL[$name]}" / 1) / $(median_of "${CPU_ALL[$name]}" / 2)"
done

verdict() { awk -v r="$1" -v op="$2" -v bar="$3" 'BEGIN { ok = (op == ">=") ? (r >= bar) : (r <= bar); printf "%sx, bar %s", r, ok ? "met" : "NOT met" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "running the Set-Cookie filter micro-benchmark" >&2
MICRO=$("$BIN/examples/filter_bench")

LOAD=${LOAD_BEFORE:-?}
CPU=$(awk -F: '/model name/ { gsub(/^ +/, "", $2); print $2; exit }' /proc/cpuinfo)
NCPU=$(nproc)
DATE=$(date -u +"%Y-%m-%d %H:%M UTC")
NGINX_VERSION=$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')
SECTION=$(cat <<MD
## Proxy

\`bench/proxy/run.sh\`, $DATE, $CPU ($NCPU cores, shared by load generator, proxies and
upstream, and with other jobs: load average before the run $LOAD), loopback. wrk 4.1, $THREADS thread,
$CONNS connections; targets run interleaved, $ROUNDS rounds of ${DURATION} s each after a 2 s warm-up,
requests/s of the median round of each target and the median of its rounds' p99 shown; nginx $NGINX_VERSION with \`proxy_pass\` to a keepalive upstream pool
(\`worker_processes auto\`); \`crumb proxy\` release build, filtering on (leadsgen inventory,
requests without a consent cookie: the analytics cookie is removed from every response,
the undeclared one reported, the session cookie kept). Upstream: a 2 KB HTML page with three
\`Set-Cookie\` headers (\`crates/crumb-guard/examples/bench_upstream.rs\`).

| target | requests/s | p99 latency (ms) | throughput vs nginx | p99 vs nginx | CPU µs per request, user / kernel |
|---|---:|---:|---:|---:|---:|
| direct (no proxy) | ${RPS[direct]} | ${P99[direct]} | $(ratio "${RPS[direct]}" "${RPS[nginx]}") | $(ratio "${P99[direct]}" "${P99[nginx]}") | ${CPU[direct]} (upstream) |
| nginx \`proxy_pass\` | ${RPS[nginx]} | ${P99[nginx]} | 1.00 | 1.00 | ${CPU[nginx]} |
| \`crumb proxy\`, filtering, no injection (fast path) | ${RPS[crumb]} | ${P99[crumb]} | $(ratio "${RPS[crumb]}" "${RPS[nginx]}") | $(ratio "${P99[crumb]}" "${P99[nginx]}") | ${CPU[crumb]} |
| \`crumb proxy --no-fast-path\`, filtering (hyper path) | ${RPS[crumb-hyper]} | ${P99[crumb-hyper]} | $(ratio "${RPS[crumb-hyper]}" "${RPS[nginx]}") | $(ratio "${P99[crumb-hyper]}" "${P99[nginx]}") | ${CPU[crumb-hyper]} |
| \`crumb proxy\`, filtering, banner injection | ${RPS[crumb+inject]} | ${P99[crumb+inject]} | $(ratio "${RPS[crumb+inject]}" "${RPS[nginx]}") | $(ratio "${P99[crumb+inject]}" "${P99[nginx]}") | ${CPU[crumb+inject]} |

CPU per request is the proxy's own (nginx: its workers; direct: the upstream), from
\`/proc/PID/stat\` around each round, median of the rounds. Load generator, upstream and
proxy share the cores, so every microsecond the proxy spends is taken from the other two.

Bar (PRODUCT.md section 7): throughput >= 1.0x nginx, p99 <= 1.2x nginx. This run, filtering
without injection: throughput $(verdict "$(ratio "${RPS[crumb]}" "${RPS[nginx]}")" ">=" 1.0), p99 $(verdict "$(ratio "${P99[crumb]}" "${P99[nginx]}")" "<=" 1.2).
Every round (requests/s:p99 ms): direct${ALL[direct]}; nginx${ALL[nginx]}; crumb${ALL[crumb]};
crumb-hyper${ALL[crumb-hyper]}; crumb+inject${ALL[crumb+inject]}.

Set-Cookie filter micro-benchmark (\`crates/crumb-guard/examples/filter_bench.rs\`, release,
200,000 calls per case for time, 1,000 under dhat for allocations; leadsgen inventory):

$MICRO

The filter's allocations on kept headers come from the \`cookie\` crate's parser, which
lower-cases each attribute name into a new \`String\`; a rewritten header is serialised
again. The decision per request allocates the \`ConsentState\` (sets of category ids)
handed to the application.
MD
)
echo "$SECTION"
DOC=$ROOT/docs/benchmarks.md
mkdir -p "$ROOT/docs"
if [ ! -f "$DOC" ]; then printf '# Benchmarks\n\nMeasured by the scripts in `bench/`; each section says how.\n' >"$DOC"; fi
python3 - "$DOC" "$SECTION" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
doc = open(path).read()
pattern = re.compile(r"^## Proxy\n.*?(?=^## |\Z)", re.S | re.M)
if pattern.search(doc):
    doc = pattern.sub(lambda _: section.rstrip() + "\n\n", doc)
else:
    doc = doc.rstrip() + "\n\n" + section.rstrip() + "\n"
open(path, "w").write(doc.rstrip() + "\n")
PY
echo "written to docs/benchmarks.md" >&2
