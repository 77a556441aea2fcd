#!/usr/bin/env bash
# Refresh statsservice/web/static/vendor/ from the npm registry, at the versions pinned in
# package.json beside this script. Only dist files and licenses are copied; commit the result.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vendor="$here/../static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$work/"
(cd "$work" && npm install --no-audit --no-fund --ignore-scripts --omit=dev >/dev/null)
nm="$work/node_modules"
copy() {  # copy SOURCE DEST, dropping the source-map comment (the maps are not vendored)
    mkdir -p "$(dirname "$vendor/$2")"
    sed '/^\/\/# sourceMappingURL=/d' "$nm/$1" >"$vendor/$2"
}
copy chart.js/dist/chart.umd.min.js chartjs/chart.umd.min.js
cp "$nm/chart.js/LICENSE.md" "$vendor/chartjs/LICENSE.md"
copy chartjs-chart-matrix/dist/chartjs-chart-matrix.min.js chartjs-chart-matrix/chartjs-chart-matrix.min.js
cp "$nm/chartjs-chart-matrix/LICENSE" "$vendor/chartjs-chart-matrix/LICENSE"
copy chartjs-chart-geo/build/index.umd.min.js chartjs-chart-geo/index.umd.min.js
cp "$nm/chartjs-chart-geo/LICENSE" "$vendor/chartjs-chart-geo/LICENSE"
mkdir -p "$vendor/world-atlas"
cp "$nm/world-atlas/countries-110m.json" "$nm/world-atlas/LICENSE" "$vendor/world-atlas/"
for pkg in chart.js chartjs-chart-geo chartjs-chart-matrix world-atlas; do
    printf '%s %s\n' "$pkg" "$(node -p "require('$nm/$pkg/package.json').version")"
done >"$vendor/VERSIONS"
echo "vendored into $vendor:"
cat "$vendor/VERSIONS"
