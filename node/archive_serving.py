"""Serving a channel's pruned blocks again from a block archive (`archive_dir` in the config).

A node that prunes (`retain_blocks`) answers `NOT_FOUND pruned` for its old heights; an
operator who exported them (`govchain archive export`) can point the node at the archive
(`<archive_dir>/<channel>/`, docs/operations.md "Pruning and archiving") and the node
answers those heights from it again: `GetBlock`, `GetTransaction`, `StreamBlocks` to
clients and `FetchBlocks` to a peer syncing from genesis.

Trust: at startup (`open_archive`) the whole archive passes the offline check
(client/archive_verify.py: chunk hashes, hash chain from the genesis hash, every commit
certificate against the validator set of its height) and must link to what the ledger
keeps: its block at the prune base height has the base's digest, and where it reaches
into the retained chain, the ledger's digest there. A bad archive is a ConfigError naming
the path and the problem; the node does not start with it. A block served later is
re-checked cheaply (its height, and that its header hashes to the recorded digest), so
a file changed under a running node is reported, not served.

Bounded reads: nothing but the manifest is held. A chunk's record offsets (one int per
block) are built on first use and kept for the `INDEX_CHUNKS_MAX` most recently used
chunks; each block is read from its file by seek, so a chunk of large blocks is never
decoded whole.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from google.protobuf.message import DecodeError

from client.archive import LENGTH_BYTES, RECORD_BYTES_MAX, ArchiveError, read_manifest
from client.archive_verify import verify_archive
from node.config import ConfigError
from protos import api_pb2 as api

if TYPE_CHECKING:
    from consensus.hashing import Hashing
    from node.config import Genesis
    from protos import consensus_pb2 as cpb
    from storage.ledger import ChannelLedger

log = structlog.get_logger("archive")

INDEX_CHUNKS_MAX = 16  # chunks whose record offsets stay in memory (1000 ints each)


class ArchiveReader:
    """Blocks 1..`to_height` of one channel's verified archive, read on demand."""

    def __init__(self, directory: Path, manifest: dict[str, Any], hashing: Hashing) -> None:
        self.directory, self.hashing = directory, hashing
        self.to_height: int = manifest["to_height"]
        self._chunks: list[dict[str, Any]] = manifest["chunks"]
        self._starts = [c["from_height"] for c in self._chunks]
        self._offsets: OrderedDict[str, list[int]] = OrderedDict()

    def _chunk_of(self, height: int) -> dict[str, Any] | None:
        at = bisect.bisect_right(self._starts, height) - 1
        if at < 0 or height > self._chunks[at]["to_height"]:
            return None
        return self._chunks[at]

    def _index(self, chunk: dict[str, Any]) -> list[int]:
        """The byte offset of each record of a chunk (built once, kept in a small LRU)."""
        name = chunk["file"]
        offsets = self._offsets.get(name)
        if offsets is not None:
            self._offsets.move_to_end(name)
            return offsets
        offsets = []
        path = self.directory / name
        with path.open("rb") as f:
            at, size = 0, path.stat().st_size
            while at < size:
                offsets.append(at)
                f.seek(at)
                at += LENGTH_BYTES + int.from_bytes(f.read(LENGTH_BYTES), "big")
        self._offsets[name] = offsets
        if len(self._offsets) > INDEX_CHUNKS_MAX:
            self._offsets.popitem(last=False)
        return offsets

    def event(self, height: int) -> api.BlockEvent | None:
        """The archived block at `height` with its digest and results; None if the
        archive does not hold it. ArchiveError if its file changed since startup."""
        chunk = self._chunk_of(height)
        if chunk is None:
            return None
        where = f"{self.directory / chunk['file']}"
        try:
            offsets = self._index(chunk)
            with (self.directory / chunk["file"]).open("rb") as f:
                f.seek(offsets[height - chunk["from_height"]])
                size = int.from_bytes(f.read(LENGTH_BYTES), "big")
                if size > RECORD_BYTES_MAX:
                    raise ArchiveError(f"{where}: a {size}-byte record at height {height}")
                event = api.BlockEvent.FromString(f.read(size))
        except (OSError, IndexError, DecodeError) as e:
            raise ArchiveError(f"{where}: block {height} unreadable: {e}") from e
        if event.height != height or self.hashing.hash(event.block.block.header) != event.hash:
            raise ArchiveError(f"{where}: block {height} changed since the node verified it")
        return event

    def blocks(
        self, from_height: int, to_height: int, count_max: int, bytes_max: int
    ) -> list[cpb.CertifiedBlock]:
        """A `FetchBlocks` answer from the archive, bounded as the ledger's (the first
        block always, then at most `bytes_max` serialized and `count_max` blocks)."""
        out: list[cpb.CertifiedBlock] = []
        size = 0
        stop = min(to_height, self.to_height, max(from_height, 1) + count_max - 1)
        for height in range(max(from_height, 1), stop + 1):
            event = self.event(height)
            if event is None:
                break
            size += event.block.ByteSize() + 8
            if out and size > bytes_max:
                break
            out.append(event.block)
        return out


def block_event(
    ledger: ChannelLedger, archive: ArchiveReader | None, height: int
) -> api.BlockEvent | None:
    """Block `height` with digest and results from the ledger, else from the archive (a
    pruned height), else None."""
    block, results = ledger.block(height), ledger.results(height)
    if block is not None and results is not None:
        return api.BlockEvent(
            height=height, hash=ledger.block_hash(height), block=block, results=results
        )
    if archive is None or height > ledger.pruned_height():
        return None
    return archive.event(height)


def open_archive(
    archive_dir: Path | None, genesis: Genesis, ledger: ChannelLedger
) -> ArchiveReader | None:
    """The channel's archive under `archive_dir`, verified and linked to the ledger; None
    when no archive is configured for it. ConfigError names the path and the problem."""
    if archive_dir is None or not (archive_dir / genesis.channel).exists():
        return None
    directory = archive_dir / genesis.channel
    done, problem = verify_archive(directory, genesis.raw)
    if problem is not None:
        raise ConfigError(f"archive {directory}: not verified after {done} block(s): {problem}")
    reader = ArchiveReader(directory, read_manifest(directory), ledger.hashing)
    try:
        problem = _link_problem(reader, ledger)
    except ArchiveError as e:
        problem = str(e)
    if problem is not None:
        raise ConfigError(f"archive {directory}: {problem}")
    log.info("serving archive", channel=genesis.channel, path=str(directory), blocks=done)
    return reader


def _link_problem(reader: ArchiveReader, ledger: ChannelLedger) -> str | None:
    """Why the archive does not continue into what the ledger keeps, or None: it reaches
    the prune base, and agrees with the ledger at the base and at the highest height both
    hold."""
    base = ledger.base()
    if reader.to_height < base.height:
        return (
            f"ends at block {reader.to_height}, but the node pruned up to {base.height}: "
            f"blocks {reader.to_height + 1}..{base.height} would be missing"
        )
    checks = [(base.height, base.hash)] if base.height > 0 else []
    top = min(reader.to_height, ledger.tip().height)
    if top > base.height:
        checks.append((top, ledger.block_hash(top)))
    for height, digest in checks:
        event = reader.event(height)
        if event is None or event.hash != digest:
            mine = "none" if event is None else event.hash.hex()
            return (
                f"block {height} is {mine} in the archive but {digest.hex()} in the ledger: "
                "an archive of another chain or fork"
            )
    return None
