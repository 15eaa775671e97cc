#!/usr/bin/env bash
# A short, verified load run against a real server: five synthetic adapters (one of each kind)
# plus the base model, 20 greedy requests from 2 clients, each checked token for token against
# the same request run alone first (with ignore_eos, so every request runs its full length).
#   Tests/Compatibility/loadgen-smoke.sh SWITCHBOARD_BIN MODEL LOADGEN_BIN
set -euo pipefail
bin=$1 model=$2 loadgen=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" adapters synth --model "$model" --out "$dir/adapters" --count 5 --kind mix --rank 8 >/dev/null
"$(dirname "$0")/with-server.sh" "$bin" --model "$model" --adapters "$dir/adapters" -- \
  sh -c "\"$loadgen\" --quick --verify --ignore-eos --port \${SWITCHBOARD_URL##*:} --popularity uniform --include-base \
         --adapter-names synth-0,synth-1,synth-2,synth-3,synth-4 --out \"$dir/report\" --no-progress"
