#!/usr/bin/env bash
# Install igv.js (npm package "igv", pinned) for tests/test_seg_igvjs.py, which reads
# segments.seg with IGV's own SEG parser in headless Chromium.  Idempotent.
# Installs into ${CTCSCOPE_IGVJS_DIR:-$HOME/.cache/ctcscope/igvjs}; without npm it says so and
# exits 0 (the test then skips with the same reason).
set -euo pipefail

VERSION="3.8.10"
DIR="${CTCSCOPE_IGVJS_DIR:-$HOME/.cache/ctcscope/igvjs}"
JS="$DIR/node_modules/igv/dist/igv.js"

if [ -f "$JS" ] && grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/igv/package.json" 2>/dev/null; then
  echo "setup-igvjs: igv.js $VERSION already in $DIR"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  # Debian's Node.js and npm (as root; the browser set-up installs Chromium the same way)
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends nodejs npm >/dev/null 2>&1 \
    || { apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null 2>&1 \
         && apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends nodejs npm >/dev/null 2>&1; } || true
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "setup-igvjs: npm not found; install Node.js/npm to run the igv.js SEG test (it will be skipped)" >&2
  exit 0
fi
mkdir -p "$DIR"
npm install --prefix "$DIR" --no-audit --no-fund --silent "igv@$VERSION" \
  || { echo "setup-igvjs: npm could not install igv@$VERSION (the igv.js SEG test will be skipped)" >&2; exit 0; }
echo "setup-igvjs: installed igv.js $VERSION in $DIR"
