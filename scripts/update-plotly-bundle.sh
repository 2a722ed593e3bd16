#!/usr/bin/env bash
# Refresh the report's plotly.js bundle (src/ctcscope/report/static/plotly-cartesian.min.js)
# from npm: the official "cartesian" partial build (bar, box, heatmap, scatter, ... : every trace
# type the report draws) at 1.5 MB instead of the full 4.8 MB bundle.  MIT; header kept.
# Usage: bash scripts/update-plotly-bundle.sh [VERSION]   (default: the pinned one below)
set -euo pipefail
VERSION="${1:-4.1.1}"
cd "$(dirname "$0")/.."
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
npm install --prefix "$TMP" --no-audit --no-fund --silent "plotly.js-cartesian-dist-min@$VERSION"
cp "$TMP/node_modules/plotly.js-cartesian-dist-min/plotly-cartesian.min.js" src/ctcscope/report/static/plotly-cartesian.min.js
head -3 src/ctcscope/report/static/plotly-cartesian.min.js
