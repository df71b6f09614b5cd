"""A channel's blocks written out of a node: an archive directory that stays verifiable offline.

A node that prunes (`retain_blocks`) keeps only its newest blocks; the older ones live on
in an archive. The format (docs/protocol.md, "Block archives"):

- `manifest.json`: `format` ("govchain-archive"), `version` (1), `chain_id`, `channel`,
  `crypto_suite`, `genesis_hash` (hex: the suite hash of the genesis file, block 1's
  parent), `from_height` (1) and `to_height`, and `chunks`: for each chunk file its
  `file`, `from_height`, `to_height`, `bytes` and `sha256` (of the file's bytes).
- `blocks-<from>-<to>.bin`: one record per height, in order: a 4-byte big-endian length,
  then an `api.BlockEvent` (height, block digest, the `CertifiedBlock` with its commit
  certificate, the `BlockResults`), deterministically encoded.

The chunk hashes catch a damaged file; trust in the content comes from `archive verify`
(client/archive_verify.py): the hash chain from the genesis hash and every block's
commit certificate against the validator set of its height.

Export reads blocks through the Client API (`GetBlock`, mutual TLS with a client
certificate): a running node holds its LevelDB, so nothing else may open it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc

FORMAT = "govchain-archive"
VERSION = 1
MANIFEST = "manifest.json"
CHUNK_BLOCKS = 1000
LENGTH_BYTES = 4
RECORD_BYTES_MAX = 256 << 20  # a record longer than this is a damaged file, not a block


class ArchiveError(Exception):
    """An archive that cannot be written or read; the message says where and why."""


def chunk_name(first: int, last: int) -> str:
    return f"blocks-{first:012d}-{last:012d}.bin"


def write_chunk(path: Path, events: list[api.BlockEvent]) -> dict[str, Any]:
    """Write one chunk file; return its manifest entry."""
    data = bytearray()
    for event in events:
        raw = event.SerializeToString(deterministic=True)
        data += len(raw).to_bytes(LENGTH_BYTES, "big") + raw
    path.write_bytes(bytes(data))
    return {
        "file": path.name,
        "from_height": events[0].height,
        "to_height": events[-1].height,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def read_chunk(data: bytes, where: str) -> Iterator[api.BlockEvent]:
    """The records of a chunk file's bytes, in order; ArchiveError on a torn record."""
    at = 0
    while at < len(data):
        if at + LENGTH_BYTES > len(data):
            raise ArchiveError(f"{where}: a record's length is cut off at byte {at}")
        size = int.from_bytes(data[at : at + LENGTH_BYTES], "big")
        at += LENGTH_BYTES
        if size > RECORD_BYTES_MAX or at + size > len(data):
            raise ArchiveError(f"{where}: a record of {size} bytes overruns the file at byte {at}")
        event = api.BlockEvent()
        try:
            event.ParseFromString(data[at : at + size])
        except Exception as e:  # DecodeError: a damaged record
            raise ArchiveError(f"{where}: the record at byte {at} does not decode: {e}") from e
        at += size
        yield event


def write_archive(
    out: Path,
    header: dict[str, Any],
    events: Iterator[api.BlockEvent],
    chunk_blocks: int = CHUNK_BLOCKS,
) -> dict[str, Any]:
    """Write `events` (heights 1, 2, … in order) as chunks, then the manifest, into the
    new or empty directory `out`; return the manifest. `header` holds chain_id, channel,
    crypto_suite and genesis_hash."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise ArchiveError(f"{out}: not empty; an archive goes into a new or empty directory")
    chunks: list[dict[str, Any]] = []
    pending: list[api.BlockEvent] = []
    last = 0
    for event in events:
        pending.append(event)
        last = event.height
        if len(pending) == chunk_blocks:
            chunks.append(write_chunk(out / chunk_name(pending[0].height, last), pending))
            pending = []
    if pending:
        chunks.append(write_chunk(out / chunk_name(pending[0].height, last), pending))
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        **header,
        "from_height": 1,
        "to_height": last,
        "chunks": chunks,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def fetch_blocks(
    stub: api_grpc.ClientStub,
    channel: str,
    to_height: int,
    progress: Callable[[int], None] | None = None,
    timeout_s: float = 30.0,
) -> Iterator[api.BlockEvent]:
    """Blocks 1..to_height of `channel` from a node's Client API, one `GetBlock` each.
    A pruned height fails with the node's NOT_FOUND `pruned: …` (grpc.RpcError)."""
    for height in range(1, to_height + 1):
        reply = stub.GetBlock(
            api.GetBlockRequest(channel=channel, height=height), timeout=timeout_s
        )
        if reply.height != height:
            raise ArchiveError(f"asked for block {height}, the node answered {reply.height}")
        if progress is not None:
            progress(height)
        yield api.BlockEvent(
            height=reply.height, hash=reply.hash, block=reply.block, results=reply.results
        )


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest, checked for its shape (not its content: that is verify's job)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise ArchiveError(f"{directory}: no {MANIFEST}; not an archive") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArchiveError(f"{directory / MANIFEST}: unreadable: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{directory / MANIFEST}: not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise ArchiveError(f"{directory / MANIFEST}: version {manifest.get('version')!r}")
    fields = {"chain_id": str, "channel": str, "crypto_suite": str, "genesis_hash": str}
    fields |= {"from_height": int, "to_height": int, "chunks": list}
    for name, kind in fields.items():
        if not isinstance(manifest.get(name), kind):
            raise ArchiveError(f"{directory / MANIFEST}: `{name}` missing or not a {kind.__name__}")
    return manifest
