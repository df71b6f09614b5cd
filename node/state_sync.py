"""Joining a channel from a snapshot instead of replaying it from genesis (state sync).

A node with `state_sync = true` and an empty ledger for a channel asks its peers which
snapshots they offer (`ListSnapshots`), takes the newest it can verify, fetches its
chunks from every peer that offers it, and installs it; the channel then starts as after
a restart at that height and block-syncs the rest. If no peer offers one, or none
verifies, the channel syncs from genesis as before.

What a joiner trusts, and why that is enough (docs/protocol.md section 12): the genesis
file, and a quorum of each validator set in turn, exactly as block sync does. The
manifest carries every block up to the snapshot that holds a governance tx; replaying
them from the genesis set (client/set_replay.py) gives the set of the snapshot's height,
and 2f+1 of that set must have signed the checkpoint: its state root binds the history
root and the state sum (storage/state_sum.py). The chunks' partial sums must add up to
that sum, so each chunk is checked the moment it arrives, from whichever peer: a forged
one is refused, counted and fetched from another peer, and its sender is not asked again.

Resumable: each checked chunk is written with a progress mark; a restarted joiner goes
on with the same snapshot if a peer still offers it, and starts over otherwise.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import structlog
from google.protobuf.message import DecodeError

from chains.governance import MEMBERSHIP_KEY
from client.set_replay import SetReplay
from consensus.canonical import NonCanonical, decode_canonical
from consensus.certificates import CheckpointCert, check_checkpoint_cert
from consensus.config import ConsensusConfig
from consensus.membership import Membership
from crypto import Suite
from node.config import NodeConfig, load_genesis
from node.executor import root_of
from node.transport import PeerLink
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from storage.ledger import STATE_PREFIX, TIP_KEY
from storage.snapshot import (
    LayoutMismatch,
    SnapshotError,
    Writable,
    check_chunk,
    finish_sync,
    start_sync,
    sync_progress,
    wipe_sync,
    write_chunk,
)
from storage.state_sum import MODULUS, SUM_BYTES, to_bytes, to_int
from storage.stores import LevelDBStore

if TYPE_CHECKING:
    from node.node import Node

log = structlog.get_logger("state_sync")

FORMAT = 1
SYNC_ATTEMPTS = 3  # then the channel syncs from genesis
OFFERS_PER_PEER = 4


class SnapshotSource(Protocol):
    """One peer as a joiner sees it (`LinkSource` below wraps a peer link)."""

    name: str

    async def list_snapshots(self, channel: str) -> list[api.SnapshotOffer]: ...

    async def fetch(self, channel: str, height: int, chunk: int | None) -> bytes: ...


@dataclass(frozen=True)
class Verified:
    """A manifest whose certificate, governance history and sums all check out."""

    manifest: api.SnapshotManifest
    raw: bytes
    digest: bytes  # the snapshot block's
    checkpoint: CheckpointCert
    state_sum: bytes
    membership: Membership  # the validator sets replayed through its governance blocks


def verify_manifest(
    raw: bytes, cfg: ConsensusConfig, suite: Suite, suite_name: str, chain_id: str
) -> Verified:
    """The manifest if it is a snapshot of this channel certified by its validators;
    SnapshotError with the reason otherwise."""
    m = api.SnapshotManifest()
    try:
        m.ParseFromString(raw)
    except DecodeError:
        raise SnapshotError("the manifest does not decode") from None
    if m.format != FORMAT:
        raise SnapshotError(f"manifest format {m.format}, this node reads {FORMAT}")
    if (m.chain_id, m.channel, m.crypto_suite) != (chain_id, cfg.channel, suite_name):
        raise SnapshotError(f"a snapshot of {m.chain_id}/{m.channel} on {m.crypto_suite}")
    if m.height < 1:
        raise SnapshotError("a snapshot of height 0")
    sets, last = SetReplay(cfg, suite, chain_id), 0
    for certified in m.governance:
        height, _ = _checked_block(certified, cfg, sets, None)
        if not last < height <= m.height:
            raise SnapshotError(f"governance block {height} out of order")
        sets.apply(certified, height)
        last = height
    _, digest = _checked_block(m.block, cfg, sets, m.height)
    cert = check_checkpoint_cert(list(m.checkpoint), sets.config_at(m.height), suite)
    if not isinstance(cert, CheckpointCert):
        raise SnapshotError(f"the checkpoint certificate is refused: {cert.value}")
    if (cert.height, cert.block_hash) != (m.height, digest):
        raise SnapshotError(f"the checkpoint certifies height {cert.height}, another block")
    if m.results.state_root != cert.state_root or len(m.results.results) != len(m.block.block.txs):
        raise SnapshotError("the block's results are not the certified ones")
    if any(len(c.sum) != SUM_BYTES for c in m.chunks):
        raise SnapshotError("a chunk's sum is not 512 bytes")
    total = to_bytes(sum(to_int(c.sum) for c in m.chunks) % MODULUS)
    if root_of(m.history_root, total, cfg.hashing.hash) != cert.state_root:
        raise SnapshotError("the chunks' sums do not add up to the certified state root")
    return Verified(m, raw, digest, cert, total, sets.membership)


def _same_snapshot(raw: bytes | None, manifest: api.SnapshotManifest) -> bool:
    """An interrupted install is of this snapshot: the same height and the same chunks
    (the checkpoint proof may be another quorum's signatures, the state is the same)."""
    if raw is None:
        return False
    earlier = api.SnapshotManifest.FromString(raw)
    return earlier.height == manifest.height and list(earlier.chunks) == list(manifest.chunks)


def _checked_block(
    certified: pb.CertifiedBlock, cfg: ConsensusConfig, sets: SetReplay, height: int | None
) -> tuple[int, bytes]:
    """(height, digest) of a block whose header, txs and commit certificate check out."""
    try:
        header = decode_canonical(pb.BlockHeader, certified.block.header)
    except (DecodeError, NonCanonical):
        raise SnapshotError("a block header does not decode canonically") from None
    where = f"block {header.height}"
    if header.channel != cfg.channel or (height is not None and header.height != height):
        raise SnapshotError(f"{where}: of channel {header.channel!r}, not the one expected")
    digest = cfg.hashing.hash(certified.block.header)
    if header.tx_root != cfg.hashing.merkle_root(list(certified.block.txs)):
        raise SnapshotError(f"{where}: the txs do not hash to the header's tx_root")
    problem = sets.certificate_problem(certified, header.height, digest)
    if problem is not None:
        raise SnapshotError(f"{where}: bad commit certificate: {problem}")
    return header.height, digest


@dataclass
class _Fetching:
    """The chunks still to get and who may not be asked for them again."""

    pending: list[int]
    refused: dict[int, set[str]] = field(default_factory=dict)
    done: int = 0
    in_flight: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def next_for(self, source: str) -> int | None:
        return next((i for i in self.pending if source not in self.refused.get(i, set())), None)


class StateSync:
    def __init__(
        self,
        store: Writable,
        cfg: ConsensusConfig,
        suite: Suite,
        suite_name: str,
        chain_id: str,
        sources: Sequence[SnapshotSource],
        timeout_s: float = 10.0,
    ) -> None:
        self.store, self.cfg, self.suite = store, cfg, suite
        self.suite_name, self.chain_id = suite_name, chain_id
        self.sources = list(sources)
        self.timeout_s = timeout_s
        self.channel = cfg.channel
        self.log = log.bind(channel=self.channel)
        self.refused: dict[str, int] = {}  # reason -> chunks or manifests refused
        self.chunks_fetched = 0

    async def run(self) -> int:
        """Install the newest verifiable snapshot; its height, or 0 if none was offered
        or verified (the channel then syncs from genesis)."""
        offers = await self._offers()
        interrupted, done = sync_progress(self.store)
        chosen = await self._choose(offers, interrupted)
        if chosen is None:
            if interrupted is not None:
                wipe_sync(self.store)
            self.log.info("state sync: no snapshot offered or verified; syncing from genesis")
            return 0
        verified, holders = chosen
        m = verified.manifest
        if not _same_snapshot(interrupted, m):  # peers' manifests differ in their proofs only
            start_sync(self.store, verified.raw)
            done = set()
        self.log.info(
            "state sync: installing snapshot",
            height=m.height,
            chunks=len(m.chunks),
            already=len(done),
            peers=[s.name for s in holders],
        )
        todo = _Fetching([i for i in range(len(m.chunks)) if i not in done], done=len(done))
        await asyncio.gather(*(self._worker(s, verified, todo) for s in holders))
        if todo.pending:
            raise SnapshotError(
                f"chunks {todo.pending[:5]} could not be had from any peer: "
                f"refused {dict(self.refused)}"
            )
        self._check_membership(verified)
        finish_sync(
            self.store,
            m,
            verified.digest,
            verified.state_sum,
            verified.checkpoint,
            self.cfg.hashing,
        )
        self.log.info("state sync: snapshot installed", height=m.height, chunks=len(m.chunks))
        return m.height

    async def _offers(self) -> dict[str, list[api.SnapshotOffer]]:
        async def ask(source: SnapshotSource) -> list[api.SnapshotOffer]:
            try:
                return await asyncio.wait_for(source.list_snapshots(self.channel), self.timeout_s)
            except Exception as e:  # a peer down or refusing: the others may offer one
                self.log.info("state sync: peer offers nothing", peer=source.name, error=repr(e))
                return []

        answers = await asyncio.gather(*(ask(s) for s in self.sources))
        # A peer's newest few only: one offering thousands of heights must not make the
        # joiner fetch and refuse thousands of manifests.
        return {s.name: a[:OFFERS_PER_PEER] for s, a in zip(self.sources, answers, strict=True)}

    async def _choose(
        self, offers: dict[str, list[api.SnapshotOffer]], interrupted: bytes | None
    ) -> tuple[Verified, list[SnapshotSource]] | None:
        """The snapshot to install: an interrupted one if still offered, else the newest
        that f + 1 peers offer (one of them honest, so its chunks can be had), else the
        newest; the first whose manifest verifies, with the peers offering its height."""
        holders_of: dict[int, int] = {}
        for answer in offers.values():
            for height in {o.height for o in answer}:
                holders_of[height] = holders_of.get(height, 0) + 1
        enough = (len(self.cfg.validators) - 1) // 3 + 1
        heights = sorted(holders_of, key=lambda h: (min(holders_of[h], enough), h), reverse=True)
        if interrupted is not None:
            heights.sort(key=lambda h: h != api.SnapshotManifest.FromString(interrupted).height)
        for height in heights:
            holders = [s for s in self.sources if any(o.height == height for o in offers[s.name])]
            for source in random.sample(holders, len(holders)):
                try:
                    raw = await asyncio.wait_for(
                        source.fetch(self.channel, height, None), self.timeout_s
                    )
                    verified = await asyncio.to_thread(
                        verify_manifest, raw, self.cfg, self.suite, self.suite_name, self.chain_id
                    )
                except Exception as e:
                    self._refuse("manifest", source.name, height, e)
                    continue
                return verified, holders
        return None

    async def _worker(self, source: SnapshotSource, v: Verified, todo: _Fetching) -> None:
        """Fetch chunks from one peer until none is left that it may still be asked for."""
        m = v.manifest
        while True:
            index = todo.next_for(source.name)
            if index is None:
                if not todo.in_flight:
                    return
                todo.changed.clear()  # another peer's chunk may come back refused
                await todo.changed.wait()
                continue
            todo.pending.remove(index)
            todo.in_flight += 1
            try:
                data = await asyncio.wait_for(
                    source.fetch(self.channel, m.height, index), self.timeout_s
                )
                entries = await asyncio.to_thread(
                    check_chunk, data, m.chunks[index], self.cfg.hashing, m.height
                )
            except Exception as e:
                todo.refused.setdefault(index, set()).add(source.name)
                todo.pending.append(index)
                self._refuse("chunk", source.name, m.height, e, index)
                if _forged(e):  # a peer that forged a chunk is not
                    for i in range(len(m.chunks)):  # asked for another
                        todo.refused.setdefault(i, set()).add(source.name)
                continue
            finally:
                todo.in_flight -= 1
                todo.changed.set()
            write_chunk(self.store, index, entries)
            todo.done += 1
            self.chunks_fetched += 1
            if todo.done % 20 == 0 or todo.done == len(m.chunks):
                self.log.info("state sync: progress", chunks=todo.done, of=len(m.chunks))

    def _refuse(
        self, what: str, peer: str, height: int, e: Exception, index: int | None = None
    ) -> None:
        reason = "mismatch" if isinstance(e, LayoutMismatch) else "unavailable"
        reason = "forged" if _forged(e) else reason
        self.refused[reason] = self.refused.get(reason, 0) + 1
        self.log.warning(
            f"state sync: {what} refused",
            peer=peer,
            height=height,
            chunk=index,
            reason=reason,
            detail=str(e) or type(e).__name__,
        )

    def _check_membership(self, v: Verified) -> None:
        """The validator sets in the installed state are the ones replayed from the
        governance blocks (both are certified; a difference is a bug, never installed)."""
        stored = self.store.get(STATE_PREFIX + MEMBERSHIP_KEY)
        replayed = v.membership.to_pb().SerializeToString(deterministic=True)
        if stored is not None and stored != replayed:
            raise SnapshotError("the snapshot's validator sets differ from the replayed ones")


def _forged(e: Exception) -> bool:
    """The peer sent content that is wrong whatever the manifest (not merely cut
    otherwise than the manifest lists, which may be the manifest's fault)."""
    return isinstance(e, SnapshotError) and not isinstance(e, LayoutMismatch)


class LinkSource:
    """A peer as a snapshot source: its Peer service through this node's link to it."""

    def __init__(self, link: PeerLink) -> None:
        self.link = link
        self.name = link.node_id

    async def list_snapshots(self, channel: str) -> list[api.SnapshotOffer]:
        reply = await self.link.stub().ListSnapshots(api.ListSnapshotsRequest(channel=channel))
        return list(reply.snapshots)

    async def fetch(self, channel: str, height: int, chunk: int | None) -> bytes:
        request = api.FetchSnapshotRequest(channel=channel, height=height)
        if chunk is None:
            request.manifest = True
        else:
            request.chunk = chunk
        return (await self.link.stub().FetchSnapshot(request)).data


def needs_sync(config: NodeConfig, channel: str) -> bool:
    """Whether the channel joins from a snapshot first: `state_sync` is on and it has no
    block yet (or an install was interrupted). With `state_sync` off, an interrupted
    install is wiped, loudly: a channel must never start from genesis on top of part of
    another height's state."""
    path = config.data_dir / channel
    if not path.exists():
        return config.state_sync
    store = LevelDBStore(path)
    try:
        if store.get(TIP_KEY) is not None:
            return False
        if not config.state_sync and sync_progress(store)[0] is not None:
            log.warning("state sync off: wiping an interrupted snapshot install", channel=channel)
            wipe_sync(store)
        return config.state_sync
    finally:
        store.close()


async def sync_channels(node: Node) -> None:
    """Install a snapshot into each channel waiting for one, then open it. A sync that
    fails (no peer could give some chunk) is retried, resuming; after SYNC_ATTEMPTS it is
    logged and wiped, and that channel syncs from genesis, slower but sure."""
    for name in node.syncing:
        genesis = load_genesis(node.config.genesis_dir / f"{name}.json", node.config.chain_id, name)
        node.config.data_dir.mkdir(parents=True, exist_ok=True)
        store = LevelDBStore(node.config.data_dir / name)
        try:
            sync = StateSync(
                store,
                genesis.consensus_config(),
                node.suite,
                node.suite_name,
                node.config.chain_id,
                [LinkSource(link) for link in node.links.values()],
                node.config.limits.fetch_timeout_ms / 1000,
            )
            for attempt in range(1, SYNC_ATTEMPTS + 1):
                try:
                    await sync.run()  # resumes what an earlier attempt installed
                    break
                except SnapshotError as e:
                    last = attempt == SYNC_ATTEMPTS
                    log.error(
                        "state sync failed" + ("; syncing from genesis" if last else ""),
                        channel=name,
                        attempt=attempt,
                        reason=str(e),
                    )
                    if last:
                        wipe_sync(store)
                    else:
                        await asyncio.sleep(attempt)  # a backoff before asking the peers again
            node.state_sync_chunks["installed"] += sync.chunks_fetched
            node.state_sync_chunks.update(sync.refused)  # forged / unavailable
        finally:
            store.close()
        node.add_channel(name)
    node.syncing = []
