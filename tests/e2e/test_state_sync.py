"""Snapshots and state sync on real processes (docs/operations.md "Snapshots and state
sync"): validators make snapshots at every 2nd checkpoint; a joiner fetching from three
of them, one of which forges a chunk, refuses the forged chunk, gets it from another
peer and installs state equal to the certified one; with every peer forging, it refuses
to install. Then a validator whose data is wiped rejoins by state sync (not replay),
catches up and commits new txs. The same network started with `state_sync = true` and
nothing offered yet: every node falls back to syncing from genesis."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import grpc
import pytest

from chains.governance import MEMBERSHIP_KEY
from chains.tx import suite_hashing
from cli.main import main as cli
from client.connection import load_signing_key
from client.keys import load_signer
from client.txs import kv_put_tx, submit
from crypto import suite_by_name
from node.config import NodeConfig, load_genesis
from node.governance import membership_of
from node.state_sync import LinkSource, StateSync, verify_manifest
from node.transport import PeerLink
from protos import api_pb2 as api
from storage.ledger import ChannelLedger
from storage.snapshot import SnapshotError, sync_progress
from storage.state_sum import to_bytes, to_int
from storage.stores import MemoryStore
from tests.e2e.harness import Testnet, wait_for

CHANNEL = "license"
VALUE = bytes(range(256)) * 8  # 2 KiB per key: a few MiB of state, several chunks


def _send(net: Testnet, first: int, count: int) -> None:
    key = load_signing_key(net.client_key)
    for start in range(first, first + count, 50):
        txs = [
            kv_put_tx(key, net.chain_id, CHANNEL, b"k%06d" % i, VALUE, nonce=i)
            for i in range(start, start + 50)
        ]
        submit(net.stub(1), txs, timeout_s=20)


class Forging:
    """A Byzantine peer: serves chunks with one byte changed, or (`strip`) a manifest
    without its governance blocks, as if the validator set had never changed."""

    def __init__(self, source: LinkSource, strip: bool = False) -> None:
        self.source, self.name = source, f"forging-{source.name}"
        self.chunks_served = 0
        self.strip = strip

    async def list_snapshots(self, channel: str) -> list[api.SnapshotOffer]:
        return await self.source.list_snapshots(channel)

    async def fetch(self, channel: str, height: int, chunk: int | None) -> bytes:
        data = await self.source.fetch(channel, height, chunk)
        if chunk is None:
            if not self.strip:
                return data
            manifest = api.SnapshotManifest.FromString(data)
            del manifest.governance[:]
            return manifest.SerializeToString(deterministic=True)
        if self.strip:
            return data
        self.chunks_served += 1
        parsed = api.SnapshotChunk.FromString(data)
        value = parsed.entries[0].value
        parsed.entries[0].value = bytes([value[0] ^ 1]) + value[1:]  # same size, forged
        return parsed.SerializeToString(deterministic=True)


class Recut:
    """A peer whose chunks have another size than the manifest lists."""

    def __init__(self, source: LinkSource) -> None:
        self.source, self.name = source, f"recut-{source.name}"
        self.chunks_served = 0

    async def list_snapshots(self, channel: str) -> list[api.SnapshotOffer]:
        return await self.source.list_snapshots(channel)

    async def fetch(self, channel: str, height: int, chunk: int | None) -> bytes:
        data = await self.source.fetch(channel, height, chunk)
        if chunk is None:
            return data
        self.chunks_served += 1
        return data + b"\x00"


class CutOff:
    """A peer whose connection breaks after it served two chunks."""

    def __init__(self, source: LinkSource) -> None:
        self.source, self.name = source, f"cut-off-{source.name}"

    async def list_snapshots(self, channel: str) -> list[api.SnapshotOffer]:
        return await self.source.list_snapshots(channel)

    async def fetch(self, channel: str, height: int, chunk: int | None) -> bytes:
        if chunk is not None and chunk >= 2:
            raise ConnectionError("the peer went away")
        return await self.source.fetch(channel, height, chunk)


def _sources(net: Testnet, me: int, peers: list[int]) -> list[LinkSource]:
    """Links from node `me` (its validator certificate) to the given peers."""
    config: NodeConfig = net.configs[me]
    assert config.tls is not None
    signer = load_signer(config.key_file, config.key_secret)
    keys = {p.address: p.public_key for p in config.peers}
    links = [
        PeerLink(
            config.chain_id,
            signer,
            f"node{i}",
            net.address(i),
            keys[net.address(i)],
            config.limits.message_bytes_max,
            config.tls.channel_credentials(),
            receive_bytes_max=config.limits.fetch_answer_bytes_max,
        )
        for i in peers
    ]
    return [LinkSource(link) for link in links]


def _join(
    net: Testnet, sources: list, store: MemoryStore | None = None
) -> tuple[StateSync, MemoryStore, int]:
    genesis = load_genesis(net.root / "genesis" / f"{CHANNEL}.json", net.chain_id, CHANNEL)
    cfg = genesis.consensus_config()
    suite_name = genesis.crypto_suite
    store = store or MemoryStore()
    sync = StateSync(store, cfg, suite_by_name(suite_name), suite_name, net.chain_id, sources)
    height = asyncio.run(sync.run())
    return sync, store, height


FORGED_MANIFESTS = [
    (lambda m: setattr(m.chunks[0], "sum", to_bytes(to_int(m.chunks[0].sum) + 1)), "add up"),
    (lambda m: setattr(m, "history_root", bytes(32)), "add up"),
    (lambda m: m.chunks.pop(), "add up"),
    (lambda m: setattr(m, "channel", "catalog"), "a snapshot of"),
    (lambda m: setattr(m, "height", m.height + 1), "block"),
    (lambda m: m.checkpoint.pop(), "checkpoint certificate is refused"),
    (lambda m: m.block.commits.pop(), "bad commit certificate"),
    (lambda m: m.block.block.txs.pop(), "tx_root"),
    (lambda m: setattr(m.results, "state_root", bytes(32)), "results"),
    (lambda m: setattr(m, "format", 2), "format"),
]


async def _manifest(net: Testnet, height: int) -> bytes:
    (source,) = _sources(net, 3, [1])
    try:
        return await source.fetch(CHANNEL, height, None)
    finally:
        await source.link.stop()


def _offered(net: Testnet, node: int) -> int:
    async def ask() -> int:
        (source,) = _sources(net, 3, [node])
        try:
            offers = await source.list_snapshots(CHANNEL)
        finally:
            await source.link.stop()
        return offers[0].height if offers else 0

    return asyncio.run(ask())


@pytest.fixture
def net(tmp_path: Path):
    net = Testnet(
        tmp_path / "net",
        channels=(CHANNEL,),
        block_txs_max=100,
        checkpoint_interval_blocks=4,
        log_window_blocks=8,
    )
    for d in net.dirs:  # every node makes snapshots; each would join by state sync
        config = d / "config.toml"
        extra = "snapshot_interval_checkpoints = 2\nstate_sync = true\n"
        config.write_text(extra + config.read_text())
    try:
        net.start_all()
        yield net
    finally:
        net.stop_all()


def _grow(net: Testnet, capsys: pytest.CaptureFixture) -> int:
    """A fifth validator by governance; the height its set starts at."""
    new = net.add_node()
    net.start(new)
    net.wait_ready(new)
    args = ["--node", net.configs[new].node_id, "--channels", CHANNEL, "--wait"]
    capsys.readouterr()
    assert cli(["testnet", "add-validator", str(net.root), *args, "--timeout", "60"]) == 0
    found = re.search(r"new set from height (\d+)", capsys.readouterr().out)
    assert found
    return int(found.group(1))


def test_a_joiner_refuses_a_forged_chunk_installs_the_state_and_a_wiped_node_rejoins(
    net: Testnet, capsys: pytest.CaptureFixture
) -> None:
    # nothing was offered when the network started: every node synced from genesis
    assert "no snapshot offered" in net.log(0)
    grown_at = _grow(net, capsys)  # the snapshot's certificate is the new set's
    _send(net, 0, 2000)
    wait_for(
        lambda: min(_offered(net, i) for i in (0, 1, 2)) > grown_at + 8, 90, "snapshots offered"
    )

    # one Byzantine peer of three: its chunk is refused and fetched elsewhere
    honest = _sources(net, 3, [1, 2])
    forging = Forging(_sources(net, 3, [0])[0])
    sync, store, height = _join(net, [forging, *honest])
    assert height >= 8
    assert sync.refused.get("forged", 0) >= 1
    assert forging.chunks_served == 1  # a peer that forged once is not asked again
    ledger = ChannelLedger(store, CHANNEL, b"", suite_hashing(None))
    ledger.verify_integrity()
    tip = ledger.tip()
    served = net.stub(1).GetBlock(api.GetBlockRequest(channel=CHANNEL, height=height), timeout=5)
    assert tip.height == height and tip.state_root == served.results.state_root
    installed = membership_of(store.get(b"s:" + MEMBERSHIP_KEY), ())
    assert len(installed.at(height).validators) == 5  # replayed through the governance blocks

    # every forged manifest is refused before a chunk is fetched, saying why
    raw = asyncio.run(_manifest(net, height))
    genesis = load_genesis(net.root / "genesis" / f"{CHANNEL}.json", net.chain_id, CHANNEL)
    check = [genesis.consensus_config(), suite_by_name(genesis.crypto_suite), genesis.crypto_suite]
    verify_manifest(raw, *check, net.chain_id)
    for forge, reason in FORGED_MANIFESTS:
        manifest = api.SnapshotManifest.FromString(raw)
        forge(manifest)
        with pytest.raises(SnapshotError, match=reason):
            verify_manifest(manifest.SerializeToString(), *check, net.chain_id)

    # a manifest without its governance blocks is not installed
    stripped = MemoryStore()
    try:
        assert _join(net, [Forging(s, strip=True) for s in _sources(net, 3, [0])], stripped)[2] == 0
    except SnapshotError as e:
        assert "validator sets differ" in str(e)
    assert ChannelLedger(stripped, CHANNEL, b"").tip().height == 0

    # a joiner cut off after two chunks resumes with the rest, from other peers
    resumed = MemoryStore()
    with pytest.raises(SnapshotError, match="could not be had"):
        _join(net, [CutOff(s) for s in _sources(net, 3, [1])], resumed)
    interrupted, done = sync_progress(resumed)
    assert interrupted is not None and done == {0, 1}
    chunks = len(api.SnapshotManifest.FromString(interrupted).chunks)
    assert chunks > 2
    again, _, again_height = _join(net, _sources(net, 3, [2, 0]), resumed)
    assert again_height == api.SnapshotManifest.FromString(interrupted).height
    assert again.chunks_fetched == chunks - 2  # only what was missing
    assert ChannelLedger(resumed, CHANNEL, b"").tip().height == again_height

    # a peer whose chunks are cut otherwise than the manifest (its fault or the
    # manifest's) is not called a forger, and is still asked for the other chunks
    recut = Recut(_sources(net, 3, [0])[0])
    mixed, _, mixed_height = _join(net, [recut, *_sources(net, 3, [1, 2])])
    assert mixed_height >= 8 and "forged" not in mixed.refused
    assert mixed.refused.get("mismatch", 0) == recut.chunks_served >= 1

    # every peer forging: nothing is installed
    with pytest.raises(SnapshotError, match="could not be had"):
        _join(net, [Forging(s) for s in _sources(net, 3, [0, 1, 2])])

    # a validator loses its data and rejoins from a snapshot, then commits on
    assert net.stop(3) == 0
    shutil.rmtree(net.configs[3].data_dir)
    net.start(3)
    net.wait_ready(3, timeout_s=60)
    wait_for(lambda: "snapshot installed" in net.log(3), 60, "node 3 installs a snapshot")
    _send(net, 2000, 200)
    top = max(net.heights(CHANNEL, [0, 1, 2]))
    wait_for(lambda: net.heights(CHANNEL, [3])[0] >= top, 60, "node 3 catches up")
    with pytest.raises(grpc.RpcError) as refused:  # it never had the early blocks
        net.stub(3).GetBlock(api.GetBlockRequest(channel=CHANNEL, height=1), timeout=5)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert "pruned" in refused.value.details()
