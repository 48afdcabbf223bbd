#!/usr/bin/env bash
# A new user's first day, scripted (issue 16): a fresh clone, `cmake --install` to a temporary
# prefix, `hearth` on PATH, `hearth pull` of the default completion and chat models from a local
# HTTP mirror laid out like the catalogue's URLs (HF_ENDPOINT), the Neovim plugin (as installed)
# with the model set by its catalogue name showing ghost text, then `hearth index` + `hearth ask`.
# The models are synthetic (hearth synth, random weights with the reference kit's Qwen vocabulary),
# so nothing is downloaded. Usage: tools/walkthrough.sh [BUILD_DIR] (default build: a configured
# and built tree of this checkout; the clone is installed from a build of its own when given
# WALK_BUILD=1, which takes minutes).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$src/build}" && pwd)"
ref="${HEARTH_REF_DIR:-$src/../shared/reference}"
vocab="$ref/models/tiny-qwen2-peaked-Q8_0.gguf"
[ -f "$vocab" ] || { echo "walkthrough: $vocab is missing (the reference kit)"; exit 77; }
tmp="$(mktemp -d /tmp/hearth-walk.XXXXXX)"
mirror_pid=
cleanup() { [ -n "$mirror_pid" ] && kill "$mirror_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
say() { echo "walkthrough: $*"; }

say "fresh clone"
git clone --quiet "$src" "$tmp/hearth"
if [ "${WALK_BUILD:-0}" = 1 ]; then
  cmake -S "$tmp/hearth" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$tmp/build" -j"$(nproc)" --target hearth >/dev/null
  build="$tmp/build"
fi
say "cmake --install to $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PATH="$tmp/prefix/bin:$PATH"
[ "$(command -v hearth)" = "$tmp/prefix/bin/hearth" ] || { say "hearth is not the installed one"; exit 1; }
hearth --version

export XDG_DATA_HOME="$tmp/home/data" XDG_CONFIG_HOME="$tmp/home/config" XDG_CACHE_HOME="$tmp/home/cache"
say "a mirror of the catalogue with synthetic models"
for m in Qwen2.5-Coder-1.5B-GGUF/qwen2.5-coder-1.5b-q5_k_m Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q5_k_m; do
  mkdir -p "$tmp/mirror/Qwen/${m%/*}/resolve/main"
  hearth synth --like tiny-qwen2 --type Q8_0 --vocab "$vocab" --seed 7 \
    -o "$tmp/mirror/Qwen/${m%/*}/resolve/main/${m#*/}.gguf" >/dev/null 2>&1
done
python3 - "$tmp/mirror" > "$tmp/port" <<'PY' &
import functools, http.server, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
print(s.server_address[1], flush=True)
s.serve_forever()
PY
mirror_pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
export HF_ENDPOINT="http://127.0.0.1:$(cat "$tmp/port")"

say "hearth pull"
hearth pull qwen2.5-coder-1.5b
hearth pull qwen2.5-coder-1.5b-instruct
hearth list

say "a project"
mkdir -p "$tmp/project" && cd "$tmp/project" && git init -q .
printf '/* Parses the configuration file. */\nint parse_config(const char *path) {\n  return path != 0;\n}\n' > config.c
printf 'def fib(n):\n    if n < 2:\n        return n\n' > fib.py

say "Neovim: ghost text with the model set by its catalogue name"
HEARTH_PLUGIN="$tmp/prefix/share/hearth/nvim" HEARTH_HARNESS="$src/tests/editors" WALK_FILE="$tmp/project/fib.py" \
  nvim --headless -u NONE -i NONE -n -c "luafile $src/tests/editors/walkthrough.lua"

say "hearth index + hearth ask"
hearth index
hearth ask -n 16 "what does parse_config do?" > "$tmp/answer" 2> "$tmp/ask.err" || { cat "$tmp/ask.err"; exit 1; }
cat "$tmp/answer"
grep -q 'config.c' "$tmp/answer" || { say "the answer names no source"; exit 1; }
say "done"
