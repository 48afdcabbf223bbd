#!/usr/bin/env bash
# The summary table of bench/RESULTS.md, reproducible: synthesises the four code-model shapes of
# issue 4 (if missing), then for each one measures the machine's read bandwidth (hearth-membw,
# 2 threads), prefill and decode (hearth bench pp512 / tg128, median of 3, 2 threads) and the
# bandwidth again, and prints one markdown row per model: hearth against the reference engine's
# published figures for machine kind A (../shared/reference/bench/llama.cpp-cpu-2t.md) and
# decode efficiency = decode GB/s / the mean of the two bandwidth readings beside it.
#
# usage: bench/summary.sh [BUILD_DIR (build)] [MODEL_DIR (/tmp/hearth-bench)]
# Run it on a quiet machine (load < 1): figures taken beside other work are meaningless.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
dir=${2:-/tmp/hearth-bench}
p=${P:-512} n=${N:-128} reps=${REPS:-3} # P, N, REPS: shorter runs for a smoke test
vocab=../shared/reference/vocab/qwen2.5-coder.gguf
mkdir -p "$dir"

# name, shape, type, reference pp512 and tg128 on machine A
models=(
  "q05-q8     qwen2.5-coder-0.5b Q8_0   217.4 50.0"
  "q05-q5km   qwen2.5-coder-0.5b Q5_K_M 106.2 55.9"
  "q15-q8     qwen2.5-coder-1.5b Q8_0   80.2  18.3"
  "q15-q5km   qwen2.5-coder-1.5b Q5_K_M 37.6  21.4"
)

json_field() { python3 -c "import sys, json
for line in sys.stdin:
    d = json.loads(line)
    if d.get('test') == '$1': print(d['$2'])"; }
membw() { "$build/hearth-membw" -t 2 -r 5 --json | python3 -c "import sys, json
print([json.loads(l) for l in sys.stdin][-1]['gb_per_s'])"; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| model | file MB | pp$p | ref pp512 | ratio | tg$n | ref tg128 | ratio | decode GB/s | read GB/s | efficiency |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${models[@]}"; do
  read -r name shape type ref_pp ref_tg <<<"$row"
  file=$dir/$name.gguf
  [ -f "$file" ] || "$build/hearth" synth --like "$shape" --type "$type" --vocab "$vocab" -o "$file" >/dev/null
  bw1=$(membw)
  out=$("$build/hearth" bench -m "$file" -p "$p" -n "$n" -r "$reps" -t 2 --json)
  bw2=$(membw)
  pp=$(json_field "pp$p" tokens_per_s <<<"$out")
  tg=$(json_field "tg$n" tokens_per_s <<<"$out")
  gbs=$(json_field "tg$n" decode_gb_per_s <<<"$out")
  mb=$(json_field "tg$n" weight_bytes <<<"$out")
  python3 -c "
pp, tg, gbs, bw = $pp, $tg, $gbs, ($bw1 + $bw2) / 2
print(f'| $name ($type) | {$mb / 1e6:.0f} | {pp:.1f} | $ref_pp | {pp / $ref_pp:.2f}x | {tg:.1f} | $ref_tg | '
      f'{tg / $ref_tg:.2f}x | {gbs:.1f} | {bw:.1f} ($bw1 / $bw2) | {100 * gbs / bw:.0f} % |')"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
