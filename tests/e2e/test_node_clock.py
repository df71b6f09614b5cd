"""The node's side of the block-time rule (consensus/block_time.py), on one node run in
the test's event loop: a primary stamps blocks with the clock when it proposes, not when
the events that made it propose were queued; the txs of a proposed block are judged by
the genesis tx size limit, not this node's local one; and peers' messages waiting for a
busy core are bounded in bytes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from client.connection import load_signing_key
from client.txs import kv_put_tx
from consensus.crypto import Ed25519Signer
from consensus.events import MessageReceived, TxsReady
from consensus.messages import sign
from consensus.reasons import Reason
from node.config import load_config
from protos import consensus_pb2 as pb
from tests.e2e.inprocess import make_net, running, until


def test_a_primary_behind_on_its_queue_stamps_the_time_it_proposes(tmp_path: Path) -> None:
    """Before: under a backlog the primary's clock was the newest time any queued event
    carried; 10 s behind, its honest blocks were refused by every backup as too old."""
    dirs = make_net(tmp_path / "net")
    client = load_signing_key(tmp_path / "net" / "keys" / "client.key")

    async def main() -> None:
        async with running(dirs[0]) as node:
            runtime = node.channels["license"].runtime
            await until(lambda: runtime.replica.started, 5, "the channel to start")
            stale_ms = int(time.time() * 1000) - 60_000
            runtime.replica.now_ms = stale_ms  # every event it took so far was queued long ago
            full = runtime.cfg.block_txs_max  # a full block is cut at once, on this event
            txs = [
                kv_put_tx(client, "govchain-testnet", "license", b"k", b"v", nonce=i)
                for i in range(full)
            ]
            runtime.submit(TxsReady(tuple(txs), stale_ms))  # queued a minute ago
            await until(lambda: 1 in runtime.replica.slots, 5, "a block proposed")
            stamp = runtime.replica.slots[1].accepted.header.timestamp_ms
            assert abs(stamp - time.time() * 1000) < 5_000, stamp - stale_ms

    asyncio.run(main())


def test_proposed_txs_are_judged_by_the_genesis_size_limit(tmp_path: Path) -> None:
    dirs = make_net(tmp_path / "net")
    config = dirs[0] / "config.toml"
    config.write_text(config.read_text() + "\n[limits]\ntx_bytes_max = 512\n")
    assert load_config(config).limits.tx_bytes_max == 512

    async def main() -> None:
        async with running(dirs[0]) as node:
            channel = node.channels["license"]
            genesis_max = channel.runtime.cfg.tx_bytes_max
            assert genesis_max > 512
            assert channel.runtime.tx_checker.tx_bytes_max == genesis_max

    asyncio.run(main())


def test_peers_messages_waiting_for_a_busy_core_are_bounded_in_bytes(tmp_path: Path) -> None:
    """Before: the channel's queue took every verified envelope, so a core behind (a slow
    disk) let peers pile up memory in front of it without bound."""
    dirs = make_net(tmp_path / "net")
    config = dirs[0] / "config.toml"
    config.write_text(config.read_text() + "\n[limits]\nruntime_queue_bytes_max = 100000\n")
    peer = load_config(dirs[1] / "config.toml")
    signer = Ed25519Signer(bytes.fromhex(peer.key_file.read_text().strip()))

    async def main() -> None:
        async with running(dirs[0]) as node:
            runtime = node.channels["license"].runtime
            status = pb.Status(view=0, view_active=True, executed_height=0)
            signed = sign(signer, "license", "status", status)
            # The core does not run between these offers (no await): it is "behind".
            taken = [
                runtime.offer_message(MessageReceived(signed, (), 0), signer.public_key)
                for _ in range(10_000)
            ]
            size = len(signed.body) + len(signed.signature)
            assert sum(taken) == 100_000 // size
            assert runtime.queued_message_bytes <= 100_000
            assert runtime.rejected[Reason.QUEUE_FULL] == 10_000 - sum(taken)
            await until(lambda: runtime.queued_message_bytes == 0, 5, "the core to catch up")
            assert runtime.offer_message(MessageReceived(signed, (), 0), signer.public_key)

    asyncio.run(main())
