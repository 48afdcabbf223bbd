#!/usr/bin/env bash
# Builds the extension and packages it: strict type check (tsc --strict), one bundled file
# (esbuild; vscode-languageclient inside), then `vsce package` in a staging directory holding only
# what ships. Offline: needs only editors/vscode/node_modules (npm ci, done by tools/install-deps.sh).
# Usage: editors/vscode/package.sh OUT.vsix
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: package.sh OUT.vsix}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
bin="$here/node_modules/.bin"
if [ ! -x "$bin/tsc" ] || [ ! -x "$bin/esbuild" ] || [ ! -x "$bin/vsce" ]; then
  echo "package.sh: $here/node_modules is missing or incomplete: run 'npm ci' there (tools/install-deps.sh does)" >&2
  exit 1
fi
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
"$bin/tsc" --noEmit -p "$here"
"$bin/esbuild" "$here/src/extension.ts" --bundle --platform=node --format=cjs --target=node18 \
  --external:vscode --log-level=warning --outfile="$stage/dist/extension.js"
cp "$here/package.json" "$here/README.md" "$stage/"
mkdir -p "$(dirname "$out")"
(cd "$stage" && "$bin/vsce" package --no-dependencies --skip-license --allow-missing-repository \
  --no-update-package-json -o "$out.tmp" >/dev/null)
mv "$out.tmp" "$out"
echo "packaged $out ($(wc -c <"$out") bytes)"
