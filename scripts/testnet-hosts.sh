#!/usr/bin/env bash
# Bootstrap a testnet across several hosts, one validator per host.
#   scripts/testnet-hosts.sh HOSTS_FILE [DIR] [PORT] [REMOTE_DIR]
# HOSTS_FILE holds one address per line (the i-th host runs the i-th validator). Each host
# needs ssh access, python3 >= 3.11 and a checkout of govchain at REMOTE_DIR (default
# ~/govchain) with `make .venv/.installed` run once. This script creates keys, genesis and
# configs locally (the private keys never leave for any host but their own), copies each
# host its own keys and certificate, the CA certificate, the genesis files and its config,
# and starts the node there. The CA key (DIR/tls/ca.key) stays here: keep it offline.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts_file=${1:?usage: $0 HOSTS_FILE [DIR] [PORT] [REMOTE_DIR]}
dir=${2:-testnet-hosts}
port=${3:-7050}
remote=${4:-govchain}
make -s .venv/.installed
mapfile -t hosts < <(grep -v '^\s*$' "$hosts_file")
n=${#hosts[@]}
.venv/bin/govchain testnet init --validators "$n" --base-port "$port" --hosts "$hosts_file" --out "$dir"
# nodes.txt lists "node_id host:port" in validator order, one per host of HOSTS_FILE.
i=0
while read -r node address; do
  i=$((i + 1))
  host=${address%:*}
  echo "[$i/$n] $node -> $host"
  ssh -n "$host" "mkdir -p $remote/$dir/keys $remote/$dir/genesis $remote/$dir/tls $remote/$dir/$node"
  # Its own validator key, department tx key and TLS key pair, and the CA certificate:
  # never another department's keys, never the CA's key.
  scp -q "$dir/keys/$node.key" "$dir/keys/$node.tx.key" "$host:$remote/$dir/keys/"
  scp -q "$dir/tls/ca.crt" "$dir/tls/ca.crl" "$dir/tls/$node.crt" "$dir/tls/$node.key" "$host:$remote/$dir/tls/"
  scp -q "$dir"/genesis/*.json "$host:$remote/$dir/genesis/"
  scp -q "$dir/$node/config.toml" "$host:$remote/$dir/$node/"
  ssh -n "$host" "cd $remote && nohup .venv/bin/govchain node start --config $dir/$node/config.toml \
    >> $dir/$node/node.log 2>&1 < /dev/null & echo \$! > $dir/$node/node.pid"
done < "$dir/nodes.txt"
echo "started ${n} nodes; check with: .venv/bin/govchain status --node ${hosts[0]}:$port --tls $dir/tls"
