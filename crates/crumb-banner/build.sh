#!/usr/bin/env bash
# Rebuild dist/banner.min.js, dist/more.min.js and dist/banner.min.css from src/js/ with esbuild (version pinned in
# package.json and package-lock.json).
#   ./build.sh           rebuild the committed assets
#   ./build.sh --check   exit 1 if the committed assets differ from a fresh build (CI drift check)
# Needs Node and npm only here; `cargo build` embeds the committed files and never runs this.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x node_modules/.bin/esbuild ]; then npm ci --no-audit --no-fund >&2; fi
ESBUILD=node_modules/.bin/esbuild
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/out"
for name in banner more; do
  # The CSS is minified first, then imported by the script as a string it injects (nonce-aware).
  cp "src/js/$name.js" "$tmp/$name.js"
  "$ESBUILD" "src/js/$name.css" --minify --log-level=warning --outfile="$tmp/$name.css"
  [ $name = banner ] && printf '%s' "$(cat "$tmp/$name.css")" > "$tmp/out/$name.min.css"  # first_layer_html inlines it
  "$ESBUILD" "$tmp/$name.js" --bundle --minify --format=iife --target=es2020 --charset=utf8 \
    --legal-comments=none --log-level=warning --loader:.css=text --outfile="$tmp/out/$name.min.js"
done
if [ "${1:-}" = "--check" ]; then
  stale=0
  for f in banner.min.js more.min.js banner.min.css; do
    if ! cmp -s "$tmp/out/$f" "dist/$f"; then
      echo "dist/$f is stale: run crates/crumb-banner/build.sh and commit the result" >&2
      stale=1
    fi
  done
  [ $stale = 0 ] && echo "dist/ is up to date"
  exit $stale
fi
mkdir -p dist
cp "$tmp/out/"*.min.* dist/
for f in dist/*.min.js; do echo "wrote $f ($(wc -c < "$f") bytes, $(gzip -9c "$f" | wc -c) gzip -9)"; done
