"""Pruning and archiving on real processes (docs/operations.md "Pruning and archiving"):
node 0 of a 4-node testnet keeps only its newest blocks while the chain commits on; a
pruned height answers NOT_FOUND `pruned`; an archive of the range exported from an
unpruned peer verifies offline; the pruned node restarts (its startup check walks the
retained chain from the prune base) and commits on."""

from __future__ import annotations

from pathlib import Path

import grpc

from cli.main import main as cli
from client.connection import load_signing_key
from client.txs import kv_put_tx, submit
from protos import api_pb2 as api
from storage.pruning import RETAIN_BLOCKS_MIN
from tests.e2e.harness import Testnet, wait_for

CHANNEL = "license"


def _send(net: Testnet, first: int, count: int) -> None:
    key = load_signing_key(net.client_key)
    for start in range(first, first + count, 10):
        txs = [
            kv_put_tx(key, net.chain_id, CHANNEL, b"k%d" % i, b"v", nonce=i)
            for i in range(start, start + 10)
        ]
        submit(net.stub(1), txs, timeout_s=10)


def _block_error(net: Testnet, node: int, height: int) -> grpc.RpcError | None:
    try:
        net.stub(node).GetBlock(api.GetBlockRequest(channel=CHANNEL, height=height), timeout=5)
    except grpc.RpcError as e:
        return e
    return None


def test_a_pruning_node_commits_on_and_an_archive_of_the_range_verifies(tmp_path: Path) -> None:
    net = Testnet(
        tmp_path / "net",
        channels=(CHANNEL,),
        block_txs_max=2,
        checkpoint_interval_blocks=4,
        log_window_blocks=8,
    )
    config = net.dirs[0] / "config.toml"
    config.write_text(f"retain_blocks = {RETAIN_BLOCKS_MIN}\n" + config.read_text())
    genesis = tmp_path / "net" / "genesis" / f"{CHANNEL}.json"
    try:
        net.start_all()
        _send(net, 0, 300)
        wait_for(lambda: _block_error(net, 0, 1) is not None, 90, "node 0 prunes block 1")
        error = _block_error(net, 0, 1)
        assert error is not None and error.code() == grpc.StatusCode.NOT_FOUND
        assert "pruned" in error.details() and "lowest retained height" in error.details()
        assert _block_error(net, 1, 1) is None  # node 1 keeps every block
        # node 0 pruned past tip − 64; node 1 (which may lag a little) gets there too
        wait_for(lambda: net.heights(CHANNEL, [1])[0] > RETAIN_BLOCKS_MIN, 60, "node 1 height")
        top = net.heights(CHANNEL, [1])[0]
        tls = ["--tls", str(tmp_path / "net" / "tls")]
        out = tmp_path / "archive"
        common = ["--channel", CHANNEL, "--to", str(top), "--genesis", str(genesis)]
        assert cli(["archive", "export", "--node", net.address(1), *tls, *common, str(out)]) == 0
        assert cli(["archive", "verify", str(out), "--genesis", str(genesis)]) == 0
        # from the pruning node the same range fails, saying why
        refused = tmp_path / "refused"
        assert (
            cli(["archive", "export", "--node", net.address(0), *tls, *common, str(refused)]) == 1
        )
        # the pruned node restarts on its retained chain and commits on
        assert net.stop(0) == 0
        net.start(0)
        net.wait_ready(0)
        before = net.heights(CHANNEL, [0])[0]
        _send(net, 300, 40)
        wait_for(lambda: net.heights(CHANNEL, [0])[0] > before + 5, 60, "node 0 commits on")
    finally:
        net.stop_all()
