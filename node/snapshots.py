"""The snapshots one channel of this node makes, keeps on disk and offers to joiners.

When. Every `snapshot_interval_checkpoints`-th checkpoint height (node config). The
runtime commits the block at that height in a batch of its own and hands over a LevelDB
snapshot taken right after (`capture`), so the state is exactly the state at that height
however far execution has moved on by the time the checkpoint is stable. Once the stored
stable checkpoint reaches that height (`after_commit`), a supervised thread cuts the
chunks (storage/snapshot.py) and writes them with their manifest; it checks that the
chunks' sums add up to the state sum in the tip: a mismatch means the stored state is
not what the executor computed, and fails loudly rather than offering it.

Where. `<data_dir>/snapshots/<channel>/<height>/` holds `manifest.pb` and
`chunk-NNNNNN.pb`; it is written under a temporary name and renamed (and renamed to one
before it is deleted), so a crash leaves a whole snapshot or none. The newest
`snapshots_kept` are kept; pruning never goes above the oldest (node/pruning.py), so a
joiner can block-sync from any offered snapshot.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from node.supervise import spawn
from protos import api_pb2 as api
from protos import consensus_pb2 as cpb
from storage.codec import decode_checkpoint
from storage.ledger import (
    CHECKPOINT_KEY,
    EMPTY_STATE_ROOT,
    GOV_PREFIX,
    ChannelLedger,
    _height_in,
)
from storage.snapshot import cut_chunks, store_entries
from storage.state_sum import MODULUS, to_int
from storage.stores import StoreSnapshot

if TYPE_CHECKING:
    from node.node import Node

log = structlog.get_logger("snapshots")

FORMAT = 1
MANIFEST = "manifest.pb"


def chunk_name(index: int) -> str:
    return f"chunk-{index:06d}.pb"


class SnapshotMaker:
    def __init__(
        self,
        ledger: ChannelLedger,
        chain_id: str,
        suite_name: str,
        directory: Path,
        every_blocks: int,
        keep: int,
    ) -> None:
        self.ledger = ledger
        self.chain_id = chain_id
        self.suite_name = suite_name
        self.directory = directory
        self.every_blocks = every_blocks
        self.keep = keep
        self.made = 0  # snapshots written since start (metrics)
        self.on_task_failure: Callable[[str, str], None] = lambda _n, _r: None
        self._captured: tuple[int, StoreSnapshot] | None = None
        self._building = False
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob(".tmp-*"):  # a build a crash interrupted
            shutil.rmtree(leftover, ignore_errors=True)
        self._offers = self._load_offers()

    # ------------------------------------------------------------------ making

    def due(self, height: int) -> bool:
        return self.every_blocks > 0 and height % self.every_blocks == 0

    def capture(self, height: int) -> None:
        """The state at `height`, just committed: held until its checkpoint is stable."""
        if self._building:
            log.warning("snapshot skipped: the previous one is still being cut", height=height)
            return
        self.release()
        self._captured = (height, self.ledger.store.snapshot())  # type: ignore[attr-defined]

    def release(self) -> None:
        if self._captured is not None:
            self._captured[1].close()
            self._captured = None

    def after_commit(self) -> None:
        """Start cutting the captured state once the stable checkpoint is at its height."""
        if self._captured is None:
            return
        raw = self.ledger.store.get(CHECKPOINT_KEY)
        stable = decode_checkpoint(raw) if raw is not None else None
        height, snap = self._captured
        if stable is None or stable.height < height:
            return
        self._captured = None
        if stable.height > height:  # the stable checkpoint passed it (a catch-up): next one
            snap.close()
            return
        self._building = True
        name = f"snapshot-{self.ledger.channel}-{height}"
        spawn(self._build_in_thread(height, snap, list(stable.proof)), name, self._failed)

    def _failed(self, name: str, reason: str) -> None:
        self._building = False
        self.on_task_failure(name, reason)

    async def _build_in_thread(self, height: int, snap: StoreSnapshot, proof: list) -> None:
        try:
            await asyncio.to_thread(self._build, height, snap, proof)
        finally:
            snap.close()
            self._building = False

    def _build(self, height: int, snap: StoreSnapshot, proof: list) -> None:
        at = ChannelLedger(snap, self.ledger.channel, self.ledger.genesis_hash, self.ledger.hashing)
        tip = at.tip()
        if tip.height != height:
            raise RuntimeError(f"snapshot of height {height} captured a tip at {tip.height}")
        manifest = self._manifest(at, height, proof)
        tmp = self.directory / f".tmp-{height}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            total = 0
            for index, (data, info) in enumerate(cut_chunks(store_entries(snap), at.hashing)):
                _write(tmp / chunk_name(index), data)
                manifest.chunks.append(info)
                total += to_int(info.sum)
            if tip.state_sum and total % MODULUS != to_int(tip.state_sum):
                raise RuntimeError(
                    f"channel {self.ledger.channel}: the stored state at height {height} does "
                    "not sum to the state sum its tip records: the state on disk is damaged"
                )
            _write(tmp / MANIFEST, manifest.SerializeToString(deterministic=True))
        except BaseException:  # a disk full: the partial chunks must not stay until a restart
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        final = self.directory / str(height)
        _remove(final)
        os.replace(tmp, final)
        self.made += 1
        self._offers = self._load_offers()
        for old in self._offers[self.keep :]:
            _remove(self.directory / str(old.height))
        self._offers = self._offers[: self.keep]
        log.info(
            "snapshot made",
            channel=self.ledger.channel,
            height=height,
            chunks=len(manifest.chunks),
        )

    def _manifest(self, at: ChannelLedger, height: int, proof: list) -> api.SnapshotManifest:
        certified, results = at.block(height), at.results(height)
        if certified is None or results is None:
            raise RuntimeError(f"snapshot of height {height}: its block is not stored")
        base = at.base()
        before = at.results(height - 1) if height - 1 > base.height else None
        if before is not None:
            previous_root = before.state_root
        else:
            previous_root = base.state_root if base.height else EMPTY_STATE_ROOT
        tip = at.tip()
        manifest = api.SnapshotManifest(
            format=FORMAT,
            chain_id=self.chain_id,
            channel=self.ledger.channel,
            crypto_suite=self.suite_name,
            height=height,
            block=certified,
            results=results,
            previous_root=previous_root,
            history_root=tip.history_root,
            checkpoint=proof,
        )
        for key, raw in at.store.iterate(GOV_PREFIX):
            if _height_in(key, GOV_PREFIX) > height:
                break
            manifest.governance.append(cpb.CertifiedBlock.FromString(raw))
        return manifest

    # ------------------------------------------------------------------ offering

    def _load_offers(self) -> list[api.SnapshotOffer]:
        offers = []
        for path in self.directory.iterdir():
            if not path.name.isdigit() or not (path / MANIFEST).is_file():
                continue
            raw = (path / MANIFEST).read_bytes()
            manifest = api.SnapshotManifest.FromString(raw)
            offers.append(
                api.SnapshotOffer(
                    height=manifest.height,
                    chunks=len(manifest.chunks),
                    manifest_hash=self.ledger.hashing.hash(raw),
                )
            )
        return sorted(offers, key=lambda o: o.height, reverse=True)

    def offers(self) -> list[api.SnapshotOffer]:
        """What this node offers, newest first."""
        return list(self._offers)

    def oldest_height(self) -> int | None:
        return self._offers[-1].height if self._offers else None

    def read(self, height: int, chunk: int | None) -> bytes | None:
        """The manifest (chunk None) or one chunk of an offered snapshot; None if not
        offered (or removed since)."""
        if not any(o.height == height for o in self._offers):
            return None
        path = self.directory / str(height) / (MANIFEST if chunk is None else chunk_name(chunk))
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None


def _remove(snapshot: Path) -> None:
    """Delete a snapshot directory, first renamed to a temporary name: deleting takes
    one unlink per file, and one killed part way must leave no snapshot that a restart
    would offer with chunks missing (leftover temporary names go at startup)."""
    doomed = snapshot.with_name(f".tmp-gone-{snapshot.name}")
    shutil.rmtree(doomed, ignore_errors=True)  # one an earlier removal left behind
    try:
        os.replace(snapshot, doomed)
    except FileNotFoundError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def snapshot_maker(
    node: Node, ledger: ChannelLedger, checkpoint_blocks: int
) -> SnapshotMaker | None:
    """The channel's maker per the node config (None with snapshots off)."""
    config = node.config
    if not config.snapshot_interval_checkpoints:
        return None
    maker = SnapshotMaker(
        ledger,
        config.chain_id,
        node.suite_name,
        config.data_dir / "snapshots" / ledger.channel,
        config.snapshot_interval_checkpoints * checkpoint_blocks,
        config.snapshots_kept,
    )
    maker.on_task_failure = node.on_task_failure
    return maker
