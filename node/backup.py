"""The Admin service: an online backup of a channel, streamed from a LevelDB snapshot.

LevelDB lets one process hold a directory, so a backup of a running node cannot be read
from its files by another process: the node itself reads each channel from a snapshot
(`LevelDBStore.snapshot`) and streams the entries to `govchain backup` (cli/backup.py),
which writes a new LevelDB. The snapshot is one point in time: blocks committed while
the stream runs are not in it, and the tip it names is the tip of exactly those entries.

Who may ask: only the node's own certificate (its operator on its host holds it, with the
config), so no other client or peer of the consortium can read the whole ledger, the
consensus records and the world state in one call. A node without TLS (development only)
serves it to loopback callers only. Anyone else gets PERMISSION_DENIED.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import grpc
import structlog

from node.tls import validator_key_of_peer
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from storage.ledger import ChannelLedger
from storage.stores import ContentsDigest, StoreSnapshot

if TYPE_CHECKING:
    from node.node import Node

log = structlog.get_logger("backup")

CHUNK_BYTES_DEFAULT = 1 << 20
# Per-entry framing in a message (tags and lengths), so a chunk stays under its bound.
ENTRY_OVERHEAD_BYTES = 16
LOOPBACK_PEERS = ("ipv4:127.", "ipv6:[::1]", "unix:")


def caller_refusal(context: grpc.aio.ServicerContext, own_key: bytes, tls: bool) -> str | None:
    """Why this caller may not use the Admin service, or None if it may: with TLS only a
    certificate bound to this node's own validator key; without TLS only loopback."""
    if tls:
        if validator_key_of_peer(context) == own_key:
            return None
        return "the Admin service serves this node's own certificate only"
    if context.peer().startswith(LOOPBACK_PEERS):
        return None
    return "without TLS the Admin service serves loopback callers only"


def chunk_bound(requested: int, message_bytes_max: int) -> int:
    """Bytes of entries per message: as asked (default 1 MiB), at most half a message."""
    return max(1, min(requested or CHUNK_BYTES_DEFAULT, message_bytes_max // 2))


def read_chunks(
    entries: Iterator[tuple[bytes, bytes]], bound: int, digest: ContentsDigest
) -> Iterator[api.BackupChunk]:
    """Entries grouped into messages of about `bound` bytes (one entry larger than the
    bound travels alone), each entry added to `digest` as it is read."""
    chunk, size = api.BackupChunk(), 0
    for key, value in entries:
        entry_bytes = len(key) + len(value) + ENTRY_OVERHEAD_BYTES
        if chunk.keys and size + entry_bytes > bound:
            yield chunk
            chunk, size = api.BackupChunk(), 0
        chunk.keys.append(key)
        chunk.values.append(value)
        digest.update(key, value)
        size += entry_bytes
    if chunk.keys:
        yield chunk


class AdminService(api_grpc.AdminServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    async def Backup(
        self, request: api.BackupRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[api.BackupChunk]:
        node = self.node
        refusal = caller_refusal(context, node.public_key, node.server_credentials is not None)
        if refusal is not None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, refusal)
        channel = node.channels.get(request.channel)
        if channel is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"this node serves no channel {request.channel!r}"
            )
        bound = chunk_bound(request.chunk_bytes, node.config.limits.message_bytes_max)
        with channel.ledger.store.snapshot() as snap:
            async for chunk in self._stream(snap, request.channel, channel.genesis.hash, bound):
                yield chunk

    async def _stream(
        self, snap: StoreSnapshot, name: str, genesis_hash: bytes, bound: int
    ) -> AsyncIterator[api.BackupChunk]:
        """The snapshot's tip, its entries, then the totals. Each chunk is read on a
        thread, so a large channel does not hold the event loop (and the consensus)."""
        tip = ChannelLedger(snap, name, genesis_hash).tip()  # type: ignore[arg-type]
        yield api.BackupChunk(height=tip.height, tip_hash=tip.hash)
        digest = ContentsDigest()
        chunks = read_chunks(snap.iterate(b""), bound, digest)
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield chunk
        log.info(
            "backup of a channel sent",
            channel=name,
            height=tip.height,
            keys=digest.key_count,
            bytes=digest.byte_count,
        )
        yield api.BackupChunk(
            done=True,
            key_count=digest.key_count,
            contents_sha256=bytes.fromhex(digest.hexdigest()),
        )
