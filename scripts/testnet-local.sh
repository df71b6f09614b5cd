#!/usr/bin/env bash
# Bootstrap a testnet on this machine: keys, genesis per channel, configs, processes.
#   scripts/testnet-local.sh [DIR] [VALIDATORS] [BASE_PORT]
# Stop it with: .venv/bin/govchain testnet down --dir DIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-testnet}
validators=${2:-4}
base_port=${3:-7050}
make -s .venv/.installed
gov=.venv/bin/govchain
if [ ! -d "$dir/genesis" ]; then
  "$gov" testnet init --validators "$validators" --base-port "$base_port" --out "$dir"
fi
"$gov" testnet up --dir "$dir"
"$gov" testnet status --dir "$dir"
