"""A node pointed at an archive serves its pruned heights again (docs/operations.md
"Pruning and archiving"), on real processes: three of four validators prune, the fourth
keeps every block and exports the archive; the pruning node 0 restarts with
`archive_dir` and answers GetBlock and GetTransaction of a pruned height exactly as the
archive holds it; the full node is wiped and syncs from genesis, which only node 0 can
serve below the others' retention; and a tampered archive stops node 0's start."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from cli.main import main as cli
from cli.processes import NodeExited
from protos import api_pb2 as api
from storage.pruning import RETAIN_BLOCKS_MIN
from tests.e2e.harness import Testnet, wait_for
from tests.e2e.test_pruning_archive import CHANNEL, _block_error, _send

PRUNING = (0, 1, 3)
FULL = 2  # keeps every block: the archive's source, later wiped


def _with(net: Testnet, i: int, line: str) -> None:
    """A top-level config field (before the [tables])."""
    config = net.dirs[i] / "config.toml"
    config.write_text(f"{line}\n" + config.read_text())


def _block(net: Testnet, i: int, height: int) -> api.GetBlockResponse:
    return net.stub(i).GetBlock(api.GetBlockRequest(channel=CHANNEL, height=height), timeout=5)


def test_a_node_serves_its_pruned_range_from_an_archive(tmp_path: Path) -> None:
    net = Testnet(
        tmp_path / "net",
        channels=(CHANNEL,),
        block_txs_max=2,
        checkpoint_interval_blocks=4,
        log_window_blocks=8,
    )
    for i in PRUNING:
        _with(net, i, f"retain_blocks = {RETAIN_BLOCKS_MIN}")
    genesis = tmp_path / "net" / "genesis" / f"{CHANNEL}.json"
    archives = tmp_path / "archives"
    try:
        net.start_all()
        _send(net, 0, 300)
        for i in PRUNING:
            wait_for(lambda i=i: _block_error(net, i, 1) is not None, 90, f"node {i} prunes")
        wait_for(lambda: len(set(net.heights(CHANNEL))) == 1, 60, "the nodes agree on a height")
        top = net.heights(CHANNEL, [FULL])[0]
        tls = ["--tls", str(tmp_path / "net" / "tls")]
        export = ["archive", "export", "--node", net.address(FULL), *tls, "--channel", CHANNEL]
        export += ["--to", str(top), "--genesis", str(genesis), str(archives / CHANNEL)]
        assert cli(export) == 0
        original = _block(net, FULL, 1)
        tx = original.block.block.txs[0]

        # node 0 restarts pointed at the archive: its pruned heights answer again
        assert net.stop(0) == 0
        _with(net, 0, f'archive_dir = "{archives}"')
        net.start(0)
        net.wait_ready(0)
        assert _block_error(net, 0, 1) is None
        served = _block(net, 0, 1)
        assert served.hash == original.hash and served.block == original.block
        assert served.results == original.results
        got = net.stub(0).GetTransaction(
            api.GetTransactionRequest(channel=CHANNEL, tx_id=hashlib.sha256(tx).digest()),
            timeout=5,
        )
        assert (got.height, got.tx) == (1, tx)
        stream = net.stub(0).StreamBlocks(
            api.StreamBlocksRequest(channel=CHANNEL, from_height=1), timeout=30
        )
        streamed = [next(stream) for _ in range(3)]
        stream.cancel()
        assert [e.height for e in streamed] == [1, 2, 3]
        assert streamed[0].hash == original.hash and streamed[2].hash == _block(net, FULL, 3).hash
        assert _block_error(net, 1, 1) is not None  # node 1 prunes and has no archive

        # the full node, wiped, syncs from genesis: below the others' base only node 0 can
        assert net.stop(FULL) == 0
        shutil.rmtree(net.configs[FULL].data_dir)
        net.start(FULL)
        net.wait_ready(FULL)
        wait_for(lambda: net.heights(CHANNEL, [FULL])[0] >= top, 120, "the wiped node syncs")
        assert _block(net, FULL, 1).hash == original.hash

        # a tampered archive: node 0 refuses to start, naming the archive and the problem
        assert net.stop(0) == 0
        chunk = next((archives / CHANNEL).glob("blocks-*.bin"))
        data = bytearray(chunk.read_bytes())
        data[len(data) // 2] ^= 1
        chunk.write_bytes(bytes(data))
        net.start(0)
        with pytest.raises(NodeExited) as exited:
            net.wait_ready(0)
        assert exited.value.code == 2
        assert f"archive {archives / CHANNEL}" in exited.value.log_tail
        assert "not verified after 0 block(s)" in exited.value.log_tail
    finally:
        net.stop_all()
