#!/usr/bin/env bash
# Side by side: the figures bench/RESULTS.md tracks, for two builds on this machine, interleaved
# (A, B, A, B ...) so that both see the same load and memory bandwidth. For every change that
# touches a measured path: A = the previous commit's binary, B = the new one.
#
#   engine  hearth bench pp512 / tg128 (median of 3, 2 threads) on a 0.5B Q5_K_M code model
#   fim     bench/fim replay through hearth lsp (reuse mode, 16 tokens, 2 threads): p50/p95
#   serve   bench/serve clients 1,16 (2 requests each, 64 tokens): total tok/s, embeddings
#   index   a fresh index of Python's email + json packages with a bge-small-shaped embedding
#           model (wall seconds, vectors), then one function edited and re-indexed
#
# usage: bench/compare.sh A_BIN B_BIN [ROUNDS (2)] [PARTS (engine,fim,serve,index)]
# Models are synthesised into $HEARTH_BENCH_DIR (default /tmp/hearth-compare) on first use.
# Run it on a quiet machine; the load average is printed before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
a_bin=$(realpath "$1")
b_bin=$(realpath "$2")
rounds=${3:-2}
parts=${4:-engine,fim,serve,index}
dir=${HEARTH_BENCH_DIR:-/tmp/hearth-compare}
vocab=../shared/reference/vocab
mkdir -p "$dir"
coder=$dir/coder-0.5b-q5km.gguf
coder_q8=$dir/coder-0.5b-q8.gguf
bge=$dir/bge-small-q8.gguf
[ -f "$coder" ] || "$b_bin" synth --like qwen2.5-coder-0.5b --type Q5_K_M \
  --vocab $vocab/qwen2.5-coder.gguf -o "$coder" >/dev/null
[ -f "$coder_q8" ] || "$b_bin" synth --like qwen2.5-coder-0.5b --type Q8_0 \
  --vocab $vocab/qwen2.5-coder.gguf -o "$coder_q8" >/dev/null
[ -f "$bge" ] || "$b_bin" synth --like bge-small-en-v1.5 --type Q8_0 \
  --vocab $vocab/bert-bge.gguf -o "$bge" >/dev/null
pylib=$(python3 -c 'import email, os; print(os.path.dirname(os.path.dirname(email.__file__)))')

has() { [[ ",$parts," == *",$1,"* ]]; }

engine() { # pp512 and tg128 tok/s
  "$1" bench -m "$coder" -p 512 -n 128 -r 3 -t 2 --json 2>/dev/null | python3 -c "
import sys, json
r = {json.loads(l)['test']: json.loads(l)['tokens_per_s'] for l in sys.stdin if l.strip()}
print('pp512 %.1f tok/s, tg128 %.1f tok/s' % (r['pp512'], r['tg128']))"
}

fim() { # first token and full suggestion p50/p95 of the reuse mode
  node bench/fim/run.mjs --bin "$1" --model "$coder" --modes reuse --threads 2 --lines 4 \
    --cap 4 2>/dev/null | grep -m1 '^| reuse |' | awk -F'|' '{print "first token p50/p95" $8 "ms; full" $9 "ms"}'
}

serve() { # completion rows (clients, requests, tok/s, req/s, p50, p95), then embedding rows
  node bench/serve/run.mjs --bin "$1" --model "$coder_q8" --embed-model "$bge" --clients 1,16 \
    --requests 2 --max-tokens 64 --threads 2 2>/dev/null | grep -E '^\| *(1|16) *\|' |
    awk -F'|' '{printf "%s clients %s tok/s p50 %s ms;", $2, $4, $6}'
  echo
}

index() { # fresh index with embeddings, then one function edited and re-indexed
  local work=$dir/index-$2
  rm -rf "$work" && mkdir -p "$work" && cp -r "$pylib/email" "$pylib/json" "$work/"
  find "$work" -name __pycache__ -prune -exec rm -rf {} +
  local t0 t1 t2 out1 out2
  t0=$(date +%s.%N)
  out1=$("$1" index "$work" --embedding-model "$bge" -t 2 2>&1 | tail -1)
  t1=$(date +%s.%N)
  sed -i 's/^def decode_params(params):/def decode_params(params):\n    params = list(params)/' \
    "$work/email/utils.py"
  out2=$("$1" index "$work" -t 2 2>&1 | tail -1)
  t2=$(date +%s.%N)
  printf "fresh %.1f s (%s); one function edited: %.1f s (%s)\n" "$(python3 -c "print($t1 - $t0)")" \
    "$(echo "$out1" | grep -o "[0-9]* vectors written")" "$(python3 -c "print($t2 - $t1)")" \
    "$(echo "$out2" | grep -o '[0-9]* vectors written')"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); A=$a_bin B=$b_bin"
for part in engine fim serve index; do
  has $part || continue
  for r in $(seq 1 "$rounds"); do
    echo "$part A (round $r): $($part "$a_bin" a)"
    echo "$part B (round $r): $($part "$b_bin" b)"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
