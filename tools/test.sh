#!/usr/bin/env bash
# Builds hearth and runs the whole test suite with ctest.
#   BUILD_DIR (default build), BUILD_TYPE (default Release), CMAKE_EXTRA: extra cmake arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" ${CMAKE_EXTRA:-} >/dev/null
cmake --build "$dir" -j"$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
