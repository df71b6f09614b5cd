"""A 4-node testnet of real processes: commits, faults, restarts, bad input, corruption."""

from __future__ import annotations

import subprocess

import grpc
import nacl.signing
import plyvel
import pytest

from cli.processes import node_command
from client.connection import load_signing_key
from client.txs import kv_put_tx, submit, subscribe
from node.config import CHANNELS
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from storage.ledger import BLOCK_PREFIX, height_key
from tests.e2e.harness import ROOT, Testnet, wait_for


def make_txs(net: Testnet, channel: str, count: int, prefix: str = "k", **kw: int) -> list[bytes]:
    key = load_signing_key(net.client_key)
    return [
        kv_put_tx(key, net.chain_id, channel, f"{prefix}{i}".encode(), b"v%d" % i, nonce=i, **kw)
        for i in range(count)
    ]


def committed_on(net: Testnet, node: int, channel: str, tx_ids: list[bytes]) -> bool:
    stub = net.stub(node)
    for tid in tx_ids:
        try:
            stub.GetTransaction(api.GetTransactionRequest(channel=channel, tx_id=tid), timeout=5)
        except grpc.RpcError:
            return False
    return True


def chain(net: Testnet, node: int, channel: str) -> list[tuple[bytes, bytes]]:
    stub = net.stub(node)
    top = net.status(node)[channel].height
    out = []
    for h in range(1, top + 1):
        r = stub.GetBlock(api.GetBlockRequest(channel=channel, height=h), timeout=5)
        out.append((r.hash, r.results.state_root))
    return out


def test_thousand_txs_over_five_channels_commit_identically_on_every_node(testnet: Testnet) -> None:
    testnet.start_all()
    ids: dict[str, list[bytes]] = {}
    for n, channel in enumerate(CHANNELS):
        txs = make_txs(testnet, channel, 200, prefix=channel)
        results = submit(testnet.stub(n % 4), txs)
        assert [r.status for r in results] == [api.ACCEPTED] * 200
        ids[channel] = [r.tx_id for r in results]
    for channel in CHANNELS:
        for node in range(4):
            wait_for(
                lambda c=channel, n=node: committed_on(testnet, n, c, ids[c][-1:]), 30, "commit"
            )
            assert committed_on(testnet, node, channel, ids[channel])
    for channel in CHANNELS:
        chains = [chain(testnet, node, channel) for node in range(4)]
        assert chains[0] and all(c == chains[0] for c in chains)
        first = next(iter(subscribe(testnet.stub(2), channel, from_height=1)))
        assert (first.height, first.hash) == (1, chains[0][0][0])
        value = testnet.stub(3).GetState(
            api.GetStateRequest(channel=channel, key=f"{channel}7".encode())
        )
        assert value.found and value.value == b"v7"


def test_killed_primary_is_replaced_and_catches_up_after_restart(testnet: Testnet) -> None:
    testnet.start_all()
    first = submit(testnet.stub(1), make_txs(testnet, "license", 20, prefix="a"))
    wait_for(lambda: committed_on(testnet, 3, "license", [first[-1].tx_id]), 30, "first commit")
    testnet.kill(0)  # validators[0] is the primary of view 0 on every channel
    second = submit(testnet.stub(1), make_txs(testnet, "license", 20, prefix="b"))
    assert all(r.status == api.ACCEPTED for r in second)
    ids = [r.tx_id for r in second]
    for node in (1, 2, 3):
        wait_for(lambda n=node: committed_on(testnet, n, "license", ids), 60, "commit after kill")
    assert all(testnet.status(n)["license"].view >= 1 for n in (1, 2, 3))
    testnet.start(0)
    testnet.wait_ready(0)
    top = max(testnet.heights("license", [1, 2, 3]))
    wait_for(lambda: testnet.status(0)["license"].height >= top, 60, "catch-up of the old primary")
    # With another node down, progress needs the restarted node's votes.
    testnet.kill(3)
    third = submit(testnet.stub(1), make_txs(testnet, "license", 5, prefix="c"))
    ids = [r.tx_id for r in third]
    for node in (0, 1, 2):
        wait_for(
            lambda n=node: committed_on(testnet, n, "license", ids),
            60,
            "commit with the old primary",
        )
    assert chain(testnet, 0, "license") == chain(testnet, 1, "license")


def test_stopping_and_restarting_every_node_loses_nothing(testnet: Testnet) -> None:
    testnet.start_all()
    results = submit(testnet.stub(2), make_txs(testnet, "catalog", 50))
    ids = [r.tx_id for r in results]
    for node in range(4):
        wait_for(lambda n=node: committed_on(testnet, n, "catalog", ids), 30, "commit")
    before = [chain(testnet, n, "catalog") for n in range(4)]
    testnet.stop_all()
    testnet.start_all()
    after = [chain(testnet, n, "catalog") for n in range(4)]
    assert after == before
    again = submit(testnet.stub(1), make_txs(testnet, "catalog", 50))  # the same txs again
    assert {r.status for r in again} == {api.ALREADY_COMMITTED}
    more = submit(testnet.stub(1), make_txs(testnet, "catalog", 10, prefix="new"))
    wait_for(
        lambda: committed_on(testnet, 0, "catalog", [more[-1].tx_id]), 30, "commit after restart"
    )
    assert chain(testnet, 0, "catalog")[: len(before[0])] == before[0]


def test_bad_input_gets_precise_statuses_and_changes_nothing(testnet: Testnet) -> None:
    testnet.start_all()
    stub = testnet.stub(0)
    ok = make_txs(testnet, "license", 3)
    committed = submit(stub, ok)
    wait_for(lambda: committed_on(testnet, 0, "license", [committed[-1].tx_id]), 30, "commit")
    height = testnet.status(0)["license"].height
    key = load_signing_key(testnet.client_key)
    env = api.TxEnvelope.FromString(make_txs(testnet, "license", 1, prefix="x")[0])
    env.signature = bytes([env.signature[0] ^ 1]) + env.signature[1:]
    cases = {
        b"\x0a\x05garbage": api.MALFORMED,
        env.SerializeToString(): api.BAD_SIGNATURE,
        kv_put_tx(key, testnet.chain_id, "tax", b"k", b"v"): api.UNKNOWN_CHANNEL,
        kv_put_tx(key, "other-chain", "license", b"k", b"v"): api.WRONG_CHAIN,
        ok[0]: api.ALREADY_COMMITTED,
        kv_put_tx(key, testnet.chain_id, "license", b"k", b"v", valid_until_height=1): api.EXPIRED,
        b"\x00" * (70 << 10): api.TOO_LARGE,
    }
    results = submit(stub, list(cases))
    assert [r.status for r in results] == list(cases.values())
    with pytest.raises(grpc.RpcError) as too_many:
        submit(stub, [b"x"] * 10_001)
    assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as unknown:
        stub.GetBlock(api.GetBlockRequest(channel="tax", height=1), timeout=5)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    # A peer stream from a key outside every validator set is refused.
    stranger = nacl.signing.SigningKey.generate()
    hello = api.PeerHello(
        chain_id=testnet.chain_id, public_key=bytes(stranger.verify_key), receiver=b"x"
    )
    peer = api_grpc.PeerStub(testnet.channel(0))
    with pytest.raises(grpc.RpcError) as refused:
        peer.Stream(iter([api.PeerFrame(hello=hello)]), timeout=5)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # The node still serves and its ledger did not move.
    assert testnet.status(0)["license"].height == height
    assert testnet.status(0)["license"].mempool_txs == 0


def test_corrupted_block_on_disk_is_detected_at_start(testnet: Testnet) -> None:
    testnet.start_all()
    results = submit(testnet.stub(0), make_txs(testnet, "service", 1))
    wait_for(lambda: committed_on(testnet, 2, "service", [results[0].tx_id]), 30, "commit")
    more = submit(testnet.stub(0), make_txs(testnet, "service", 1, prefix="z"))
    wait_for(lambda: committed_on(testnet, 2, "service", [more[0].tx_id]), 30, "second commit")
    testnet.stop(2)
    db = plyvel.DB(str(testnet.configs[2].data_dir / "service"))
    db.delete(BLOCK_PREFIX + height_key(1))
    db.close()
    proc = subprocess.run(
        node_command(testnet.dirs[2] / "config.toml"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "service" in proc.stderr and "height 1" in proc.stderr
