#!/usr/bin/env bash
# One command from a fresh machine: install dependencies, build hearth, and generate real text
# with the tiny trained model that ships in tests/data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/hearth run -m tests/data/stories260K.gguf -p "Once upon a time" -n 64 --temp 0
