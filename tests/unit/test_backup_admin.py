"""The Admin service (node/backup.py) serves the node's own certificate only: another
validator's or a client's certificate of the same consortium is PERMISSION_DENIED, and
without TLS only a loopback caller is served. What it streams is one snapshot."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from client.tls import TlsFiles
from node.backup import AdminService, caller_refusal, read_chunks
from node.config import Limits
from node.tls import Authority, validator_dns_name, write_pair
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import storage_pb2
from storage.ledger import TIP_KEY, ChannelLedger
from storage.stores import ContentsDigest, MemoryStore

GENESIS_HASH = bytes(32)


@pytest.fixture
def pki(tmp_path: Path) -> dict:
    ca = Authority.create("chain-x")
    ca.write(tmp_path / "ca.crt", tmp_path / "ca.key")
    keys = {"own": os.urandom(32), "other": os.urandom(32)}
    for name, key in keys.items():
        pair = ca.issue_node(name, key, ["127.0.0.1"])
        write_pair(tmp_path / f"{name}.crt", tmp_path / f"{name}.key", pair)
    write_pair(tmp_path / "client.crt", tmp_path / "client.key", ca.issue_client("client"))
    return {"dir": tmp_path, "keys": keys}


def _node(own_key: bytes, store: MemoryStore, tls: bool = True) -> SimpleNamespace:
    ledger = ChannelLedger(store, "license", GENESIS_HASH)
    channel = SimpleNamespace(ledger=ledger, genesis=SimpleNamespace(hash=GENESIS_HASH))
    return SimpleNamespace(
        public_key=own_key,
        server_credentials=object() if tls else None,
        channels={"license": channel},
        config=SimpleNamespace(limits=Limits()),
    )


def _store() -> MemoryStore:
    store = MemoryStore()
    tip = storage_pb2.Tip(height=7, hash=b"\x07" * 32, state_root=bytes(32))
    store.write([(TIP_KEY, tip.SerializeToString()), *((b"s:%d" % i, b"v") for i in range(50))])
    return store


async def _backup(port: int, tls: TlsFiles, target: str | None) -> list[api.BackupChunk] | str:
    options = [("grpc.ssl_target_name_override", target)] if target else []
    channel = grpc.aio.secure_channel(f"127.0.0.1:{port}", tls.channel_credentials(), options)
    async with channel:
        try:
            call = api_grpc.AdminStub(channel).Backup(api.BackupRequest(channel="license"))
            return [chunk async for chunk in call]
        except grpc.aio.AioRpcError as e:
            return e.code().name


async def _serve_and_call(pki: dict) -> None:
    d, keys = pki["dir"], pki["keys"]
    server = grpc.aio.server()
    api_grpc.add_AdminServicer_to_server(AdminService(_node(keys["own"], _store())), server)
    own = TlsFiles(d / "ca.crt", d / "own.crt", d / "own.key")
    port = server.add_secure_port("127.0.0.1:0", own.server_credentials())
    await server.start()
    try:
        chunks = await _backup(port, own, validator_dns_name(keys["own"]))
        assert not isinstance(chunks, str), chunks
        assert (chunks[0].height, chunks[0].tip_hash) == (7, b"\x07" * 32)
        assert chunks[-1].done and chunks[-1].key_count == 51
        other = TlsFiles(d / "ca.crt", d / "other.crt", d / "other.key")
        client = TlsFiles(d / "ca.crt", d / "client.crt", d / "client.key")
        assert await _backup(port, other, validator_dns_name(keys["own"])) == "PERMISSION_DENIED"
        assert await _backup(port, client, validator_dns_name(keys["own"])) == "PERMISSION_DENIED"
    finally:
        await server.stop(None)


def test_only_the_nodes_own_certificate_may_take_a_backup(pki: dict) -> None:
    asyncio.run(_serve_and_call(pki))


def test_without_tls_only_a_loopback_caller_is_served() -> None:
    def context(peer: str) -> SimpleNamespace:
        return SimpleNamespace(peer=lambda: peer)

    assert caller_refusal(context("ipv4:127.0.0.1:5000"), b"k", tls=False) is None
    assert caller_refusal(context("ipv6:[::1]:5000"), b"k", tls=False) is None
    assert "loopback" in str(caller_refusal(context("ipv4:10.0.0.5:5000"), b"k", tls=False))


def test_a_snapshot_does_not_see_later_writes_and_chunks_keep_their_bound() -> None:
    store = _store()
    with store.snapshot() as snap:
        store.write([(b"s:late", b"x" * 100)], [TIP_KEY])
        digest = ContentsDigest()
        chunks = list(read_chunks(snap.iterate(b""), 200, digest))
        assert ChannelLedger(snap, "license", GENESIS_HASH).tip().height == 7
    keys = [k for c in chunks for k in c.keys]
    assert b"s:late" not in keys and len(keys) == digest.key_count == 51
    assert all(
        sum(len(k) + len(v) + 16 for k, v in zip(c.keys, c.values, strict=True)) <= 200
        for c in chunks
    )
