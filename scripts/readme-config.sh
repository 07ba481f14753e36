#!/usr/bin/env bash
# Regenerates the configuration table of README.md from config/config.go's settings table.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=$(grep -oE '\{"[a-z0-9-]+", "WARDOPS_[A-Z0-9_]+", "[^"]*", "[^"]*"' config/config.go |
  sed -E 's/\{"([a-z0-9-]+)", "(WARDOPS_[A-Z0-9_]+)", "([^"]*)", "([^"]*)"/| `\2` | `--\1` | `\3` | \4 |/' | sed 's/| `` |/| (none) |/')
awk -v rows="$rows" '
  /^\| variable \| flag \| default \| meaning \|$/ { print; getline; print; print rows; skip=1; next }
  skip && /^\|/ { next }
  { skip=0; print }
' README.md > README.md.new && mv README.md.new README.md
