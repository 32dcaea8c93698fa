#!/usr/bin/env bash
# Copy the browser libraries the dashboard uses from npm into the package,
# so `ipfs-kit serve` works offline (no CDN). The copies are committed; run
# this only to upgrade (edit web-vendor/package.json, then run it).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=ipfs_kit_py/web/static/vendor
(cd web-vendor && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
  else npm install --no-audit --no-fund --loglevel=error; fi)
mkdir -p "$dest"
cp web-vendor/node_modules/chart.js/dist/chart.umd.min.js "$dest/chart.umd.min.js"
cp web-vendor/node_modules/chart.js/LICENSE.md "$dest/chart.js.LICENSE.md"
version=$(node -p "require('./web-vendor/node_modules/chart.js/package.json').version")
echo "chart.js $version" > "$dest/VERSIONS"
echo "vendored chart.js $version into $dest"
