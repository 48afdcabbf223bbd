#!/usr/bin/env bash
# Installs hearth's build and test dependencies from Debian's packages (run as root or with sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config clang libclang-rt-14-dev \
  libjansson-dev python3 python3-numpy libuv1-dev \
  libsqlite3-dev libfaiss-dev libblas-dev liblapack-dev >/dev/null
# Node runs the LSP tests and npm fetches the pinned tree-sitter sources (third_party/tree-sitter).
# A newer Node from elsewhere already brings its own npm; Debian's nodejs 18 needs its npm package.
if ! command -v npm >/dev/null; then
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
(cd "$(dirname "$0")/../third_party/tree-sitter" && npm ci --no-audit --no-fund >/dev/null)
