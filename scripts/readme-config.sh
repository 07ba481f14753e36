#!/usr/bin/env bash
# Regenerates the configuration table of README.md from config/config.go's settings table.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=$(grep -oE '\{p[A-Za-z |]+, "[a-z0-9-]+", "WARDOPS_[A-Z0-9_]+", "[^"]*", "[^"]*"' config/config.go |
  sed -E 's/ \| p/+p/g' |
  sed -E 's/\{(p[A-Za-z+]+), "([a-z0-9-]+)", "(WARDOPS_[A-Z0-9_]+)", "([^"]*)", "([^"]*)"/| `\3` | `--\2` | `\4` | \1 | \5 |/' |
  sed -E 's/pDB/every command with a database/; s/pCollector/collector/; s/pQuery/query/; s/pImport/import/; s/pMaintenance/maintenance/; s/pSim/sim/; s/pDev/dev/; s/pCommon/all/; s/\+p/, p/g' |
  sed -E 's/pCollector/collector/; s/pQuery/query/; s/pImport/import/' |
  sed -E 's/pAlerter/alerter/g' |
  sed 's/| `` |/| (none) |/')
awk -v rows="$rows" '
  /^\| variable \| flag \| default \| used by \| meaning \|$/ { print; getline; print; print rows; skip=1; next }
  skip && /^\|/ { next }
  { skip=0; print }
' README.md > README.md.new && mv README.md.new README.md
