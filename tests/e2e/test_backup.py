"""Online backup and restore on real processes (docs/operations.md "Online backup and
restore"): node 2 of a 4-node testnet is backed up while clients keep submitting, its data
dir is wiped and restored from the backup, and it starts (passing its integrity check)
and catches up with the others."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import grpc

from cli.main import main as cli
from client.connection import load_signing_key
from client.txs import kv_put_tx, submit
from tests.e2e.harness import Testnet, wait_for

CHANNEL = "license"
NODE = 2


def _load(net: Testnet, stop: threading.Event, sent: list[int]) -> None:
    """Submit kv txs to node 0 in batches until `stop`; counts what was sent."""
    key = load_signing_key(net.client_key)
    n = 0
    while not stop.is_set():
        txs = [
            kv_put_tx(key, net.chain_id, CHANNEL, b"k%d" % i, b"v" * 64, nonce=i)
            for i in range(n, n + 50)
        ]
        n += len(txs)
        try:
            submit(net.stub(0), txs, timeout_s=10)
        except grpc.RpcError:  # a busy node says so; the load goes on
            continue
        sent.append(n)


def test_a_backup_taken_under_load_restores_into_an_empty_data_dir(tmp_path: Path) -> None:
    net = Testnet(tmp_path / "net", channels=(CHANNEL,), view_change_timeout_ticks=20)
    try:
        net.start_all()
        stop, sent = threading.Event(), []
        loader = threading.Thread(target=_load, args=(net, stop, sent), daemon=True)
        loader.start()
        try:
            wait_for(lambda: net.heights(CHANNEL, [NODE])[0] >= 5, 60, "blocks under load")
            config = net.dirs[NODE] / "config.toml"
            out = tmp_path / "backup"
            assert cli(["backup", "--config", str(config), "--out", str(out)]) == 0
            backed_up = json.loads((out / "manifest.json").read_text())["channels"][0]["height"]
            # It commits on while the copy is taken: the backup is one point of it.
            wait_for(lambda: net.heights(CHANNEL, [NODE])[0] > backed_up + 2, 60, "commits after")
        finally:
            stop.set()
            loader.join(30)
        assert backed_up >= 5
        assert not list(out.rglob("*.key")), "keys only with --with-keys"
        assert net.stop(NODE) == 0
        data_dir = net.configs[NODE].data_dir
        shutil.rmtree(data_dir)
        assert cli(["restore", "--from", str(out), "--config", str(config)]) == 0
        net.start(NODE)
        net.wait_ready(NODE)
        assert net.status(NODE)[CHANNEL].height >= backed_up  # restored, checked at start
        target = max(net.heights(CHANNEL, [0, 1, 3]))
        wait_for(lambda: net.heights(CHANNEL, [NODE])[0] >= target, 60, "node 2 catches up")
    finally:
        net.stop_all()
