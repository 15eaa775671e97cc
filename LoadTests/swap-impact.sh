#!/usr/bin/env bash
# What hot-swapping costs the requests that are running: for r=8 and r=64 LoRAs (q,v), ten
# adapters with two versions each, the same closed-loop load (16 streaming clients, 128-token
# prompts, 64 generated) runs once without swaps and once with 2 swap events per second
# (replace with the other version, or unload then reload 200 ms later) through the admin API.
# Compare the p99 columns of each pair; requests that name an adapter while it is unloaded get
# 404, which is expected and counted as errors.
#   LoadTests/swap-impact.sh SWITCHBOARD_BIN MODEL LOADGEN_BIN OUT_DIR
set -euo pipefail
bin=$1 model=$2 loadgen=$3 out=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for rank in 8 64; do
  for version in 1 2; do
    "$bin" adapters synth --model "$model" --out "$dir/r$rank-v$version" --count 10 --rank "$rank" \
      --seed $((rank * 100 + version * 10)) --prefix "r$rank-" >/dev/null
  done
  for i in $(seq 0 9); do
    mkdir -p "$dir/swap/r$rank/r$rank-$i"
    mv "$dir/r$rank-v1/r$rank-$i" "$dir/swap/r$rank/r$rank-$i/v1"
    mv "$dir/r$rank-v2/r$rank-$i" "$dir/swap/r$rank/r$rank-$i/v2"
  done
done
mkdir -p "$out"
"$(dirname "$0")/../Tests/Compatibility/with-server.sh" "$bin" --model "$model" --adapter-root "$dir/swap" -- sh -c '
  set -e
  dir=$1 loadgen=$2 out=$3
  for rank in 8 64; do
    for i in 0 1 2 3 4 5 6 7 8 9; do
      curl -sf -o /dev/null "$SWITCHBOARD_URL/v1/adapters" -H "Content-Type: application/json" \
        -d "{\"name\": \"r$rank-$i\", \"path\": \"$dir/swap/r$rank/r$rank-$i/v1\"}"
    done
    common="--port ${SWITCHBOARD_URL##*:} --adapter-pattern r$rank-{i} --adapters 10 --concurrency 16 --duration 40 \
            --prompt-tokens 128 --max-tokens 64 --ignore-eos --no-progress --allow-errors"
    "$loadgen" $common --label "r=$rank no swaps" --out "$out/r$rank-steady" | head -3
    "$loadgen" $common --label "r=$rank 2 swaps/s" --swap 2 --swap-adapter-dir "$dir/swap/r$rank" \
      --out "$out/r$rank-swapping" | grep -v "^-" | tail -n +2
  done' sh "$dir" "$loadgen" "$out"
