#!/usr/bin/env bash
# The server process gives adapter memory back: loads eight r=32 all-linear LoRAs (~310 MB of
# weights) through the admin API, serves them, unloads them, and checks the process's resident
# memory against where it was before (see adapter_memory_test.py).
#   Tests/Compatibility/adapter-memory.sh SWITCHBOARD_BIN MODEL
set -euo pipefail
bin=$1 model=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" adapters synth --model "$model" --out "$dir/adapters" --count 8 --rank 32 --targets all-linear --prefix big- >/dev/null
"$(dirname "$0")/with-server.sh" "$bin" --model "$model" --adapter-root "$dir/adapters" -- \
  python3 "$(dirname "$0")/adapter_memory_test.py" --adapters "$dir/adapters"
