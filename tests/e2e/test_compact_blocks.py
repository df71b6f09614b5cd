"""Compact blocks on real processes (node/compact_blocks.py): pre-prepares carry tx ids,
the receivers rebuild the blocks from the txs gossip brought them, and a node that
missed some of that gossip fetches the rest from the primary and still commits.

Node 3's mempool holds 3 txs at most, so of a block of 4 gossiped txs it keeps 3 and
must fetch the fourth (by id); nodes 1 and 2 hold every tx and fetch nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from client.connection import load_signing_key
from client.txs import kv_put_tx, submit
from protos import api_pb2 as api
from tests.e2e.harness import Testnet, wait_for
from tests.e2e.test_observability import scrape, value

SHORT_MEMPOOL_NODE = 3


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Testnet]:
    t = Testnet(tmp_path / "net", channels=("license",), metrics=True)
    with open(t.dirs[SHORT_MEMPOOL_NODE] / "config.toml", "a") as f:
        f.write("\n[limits]\nmempool_txs_max = 3\n")
    try:
        t.start_all()
        yield t
    finally:
        t.stop_all()


def outcomes(net: Testnet, i: int) -> dict[str, float]:
    m = scrape(net, i)
    return {
        o: value(m, "govchain_compact_blocks_total", channel="license", outcome=o)
        for o in ("complete", "fetched", "full", "failed")
    }


def test_compact_pre_prepares_commit_and_a_node_missing_gossip_fetches(net: Testnet) -> None:
    key = load_signing_key(net.client_key)
    for batch in range(20):  # until node 3 has fetched by id (a block held 3 of 4 there)
        txs = [
            kv_put_tx(key, net.chain_id, "license", b"c%d-%d" % (batch, i), b"v", nonce=i)
            for i in range(4)
        ]
        assert [r.status for r in submit(net.stub(0), txs)] == [api.ACCEPTED] * 4
        wait_for(
            lambda: (
                value(scrape(net, 0), "govchain_mempool_txs", channel="license") == 0
                and len(set(net.heights("license"))) == 1
            ),
            30,
            f"batch {batch} committed on every node",
        )
        if outcomes(net, SHORT_MEMPOOL_NODE)["fetched"] >= 1:
            break
    short = outcomes(net, SHORT_MEMPOOL_NODE)
    assert short["fetched"] >= 1, short
    for i in (1, 2):  # held every tx: rebuilt from the mempool, nothing fetched or refused
        seen = outcomes(net, i)
        assert seen["complete"] >= 1 and seen["fetched"] == seen["failed"] == 0, seen
    for i in range(4):
        refused = scrape(net, i)
        assert not any(n == "govchain_compact_refusals_total" for n, _ in refused), i
    assert len(set(net.heights("license"))) == 1
