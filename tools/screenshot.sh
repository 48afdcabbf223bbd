#!/usr/bin/env bash
# Captures docs/nvim-ghost-text.png: Neovim with the hearth plugin in a real terminal (tmux),
# typing in a Python file until the server's ghost text shows, then the pane (with its colours,
# `tmux capture-pane -e`) goes through aha (ANSI -> HTML) and headless Chromium (HTML -> PNG).
# Not run in CI. Needs: build/hearth, nvim, tmux, aha, chromium, and a FIM model (default: the
# reference kit's tiny-qwen2-peaked, random weights, so the suggestion is gibberish).
#   HEARTH_BIN (build/hearth), MODEL, OUT (docs/nvim-ghost-text.png)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bin=$(realpath "${HEARTH_BIN:-build/hearth}")
model=$(realpath "${MODEL:-../shared/reference/models/tiny-qwen2-peaked-Q8_0.gguf}")
out=${OUT:-docs/nvim-ghost-text.png}
for tool in nvim tmux aha chromium; do
  command -v "$tool" >/dev/null || { echo "screenshot.sh: $tool is not installed" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "screenshot.sh: no $bin (build hearth first)" >&2; exit 1; }
[ -r "$model" ] || { echo "screenshot.sh: no model $model (set MODEL)" >&2; exit 1; }

work=$(mktemp -d)
session="hearth-shot-$$"
cleanup() { tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/proj/.git"
cat >"$work/proj/fib.py" <<'EOF'
"""Small numeric helpers."""


def square(x):
    return x * x


def fib(n):
    """The n-th Fibonacci number."""
    if n < 2:
        return n
    
EOF

cat >"$work/init.lua" <<EOF
vim.opt.runtimepath:prepend('$repo/editors/nvim')
vim.o.number = true
vim.o.laststatus = 2
vim.o.showmode = true
vim.o.swapfile = false
vim.o.shadafile = 'NONE'
vim.cmd('filetype plugin indent on')
vim.cmd('syntax on')
-- Restyled as users can: grey, italic ghost text instead of the default link to Comment.
vim.cmd('highlight HearthSuggestion ctermfg=245 cterm=italic')
require('hearth').setup({
  cmd = { '$bin', 'lsp' },
  init_options = { completionModel = '$model', threads = 2 },
})
-- Tell the script when ghost text is on screen.
local t = vim.loop.new_timer()
t:start(100, 100, vim.schedule_wrap(function()
  if require('hearth.ghost').visible() then
    vim.cmd('redraw')
    vim.fn.writefile({ 'ready' }, '$work/ready')
  end
end))
EOF

cols=92 rows=20
tmux -f /dev/null new-session -d -s "$session" -x "$cols" -y "$rows" \
  "cd $work/proj && TERM=tmux-256color nvim -u $work/init.lua -i NONE fib.py"
tmux set-option -t "$session" status off >/dev/null
sleep 2
# The empty line after "return n": go there, open insert mode and type the start of a statement.
tmux send-keys -t "$session" '12G' 'A' 'return f'
for _ in $(seq 1 300); do
  [ -e "$work/ready" ] && break
  sleep 0.1
done
[ -e "$work/ready" ] || { echo "screenshot.sh: no ghost text after 30 s" >&2; exit 1; }
sleep 0.5
tmux capture-pane -e -p -t "$session" >"$work/pane.ans"

aha --black --title 'hearth ghost text in Neovim' <"$work/pane.ans" >"$work/pane.html"
# A monospace font and no margins, so the PNG is just the terminal.
sed -i 's|</head>|<style>body{margin:0;padding:8px;font:15px/1.25 "DejaVu Sans Mono",monospace}pre{margin:0}</style></head>|' \
  "$work/pane.html"
mkdir -p "$(dirname "$out")"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --window-size=$((cols * 9 + 16)),$((rows * 19 + 16)) --screenshot="$repo/$out" \
  "file://$work/pane.html" >/dev/null 2>&1
echo "wrote $out"
