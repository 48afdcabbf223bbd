#!/usr/bin/env bash
# Unit tests of the extension's plain modules (bridge, settings, status, answers, chat page; with
# HEARTH_BIN and HEARTH_MODEL also against the real server):
# compiled with tsc --strict into OUT_DIR, run with node's test runner. Fails when node_modules is
# missing (CI installs it with npm ci).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/out}"
if [ ! -x "$here/node_modules/.bin/tsc" ]; then
  echo "run.sh: $here/node_modules is missing: run 'npm ci' there (tools/install-deps.sh does)" >&2
  exit 1
fi
rm -rf "$out"
"$here/node_modules/.bin/tsc" -p "$here" --outDir "$out"
node --test "$out"/test/*.test.js
