"""Peer connections: one long-lived outgoing gRPC stream per peer, with reconnect.

Each node opens a stream to every peer and only sends on it; what it receives arrives
on the streams its peers opened to it. A stream starts with a signed hello naming the
sender, so the receiver refuses anyone outside the validator sets it serves. Frames
waiting for a peer are bounded: when a peer is down the oldest are dropped, which costs
nothing but a retransmission (consensus re-sends its votes on every heartbeat).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator

import grpc
import structlog

from client.connection import channel_options
from consensus.crypto import Signer
from node.crl import OutboundRevocation
from node.supervise import OnFailure, spawn
from node.tls import validator_dns_name
from node.verifier import BatchVerifier
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc

log = structlog.get_logger("transport")

HELLO_CONTEXT = b"govchain-peer-hello"
HELLO_SKEW_MS = 10 * 60 * 1000


def hello_bytes(chain_id: str, sender: bytes, receiver: bytes, timestamp_ms: int) -> bytes:
    return b"|".join(
        (HELLO_CONTEXT, chain_id.encode(), sender, receiver, str(timestamp_ms).encode())
    )


def make_hello(chain_id: str, signer: Signer, receiver: bytes) -> api.PeerHello:
    now = int(time.time() * 1000)
    sig = signer.sign(hello_bytes(chain_id, signer.public_key, receiver, now))
    return api.PeerHello(
        chain_id=chain_id,
        public_key=signer.public_key,
        receiver=receiver,
        timestamp_ms=now,
        signature=sig,
    )


def check_hello(
    hello: api.PeerHello, chain_id: str, me: bytes, known: set[bytes], verifier: BatchVerifier
) -> str | None:
    """Why a peer's hello is refused, or None."""
    if hello.chain_id != chain_id:
        return f"chain id {hello.chain_id!r}"
    if hello.receiver != me:
        return "hello addressed to another node"
    if hello.public_key not in known:
        return "not a validator of any channel served here"
    if abs(int(time.time() * 1000) - hello.timestamp_ms) > HELLO_SKEW_MS:
        return "hello timestamp too far from our clock"
    data = hello_bytes(chain_id, hello.public_key, me, hello.timestamp_ms)
    if not verifier.verify(hello.public_key, data, hello.signature):
        return "bad hello signature"
    return None


class PeerLink:
    """The outgoing side towards one peer: a queue of frames and the task that sends them.

    Each queue (a channel's consensus envelopes, or its gossiped txs) holds at most
    `queue_frames_max` items and `queue_bytes_max` bytes (Limits.peer_queue_*): a
    pre-prepare or VIEW-CHANGE carries whole blocks, so a count alone would let a slow
    peer pin hundreds of MB. Two queues per channel, so 40 MB per peer for five channels
    by default. The link's channel receives only fetch answers (and stream acks), so its
    gRPC receive bound is `receive_bytes_max` (Limits.fetch_answer_bytes_max)."""

    BATCH_ENVELOPES_MAX = 256
    REVOKED_RECHECK_S = 10.0  # how often a link to a revoked peer looks again

    def __init__(
        self,
        chain_id: str,
        signer: Signer,
        node_id: str,
        address: str,
        public_key: bytes,
        message_bytes_max: int,
        credentials: grpc.ChannelCredentials | None = None,
        *,
        queue_frames_max: int = 20_000,
        queue_bytes_max: int = 4 << 20,
        receive_bytes_max: int | None = None,
        revocation: OutboundRevocation | None = None,
    ) -> None:
        """`credentials` None means plaintext (insecure mode); otherwise TLS must show the
        certificate the consortium CA issued for `public_key` (its DNS name is derived
        from the key), so the link cannot reach an impostor at the peer's address."""
        self.chain_id = chain_id
        self.credentials = credentials
        self.signer = signer
        self.node_id = node_id
        self.address = address
        self.public_key = public_key
        self.options = channel_options(message_bytes_max, receive_bytes_max)
        self.queue_frames_max = queue_frames_max
        self.queue_bytes_max = queue_bytes_max
        self.consensus: dict[str, _Queue] = {}
        self.txs: dict[str, _Queue] = {}
        self.wakeup = asyncio.Event()
        self.connected = False
        self.dropped = 0
        self.channel: grpc.aio.Channel | None = None
        self._task: asyncio.Task[None] | None = None
        self.on_failure: OnFailure = lambda _n, _r: None  # set by the node
        self.revocation = revocation
        self.peer_certificate: bytes | None = None  # as the peer showed it at connect
        self.revoked: str | None = None  # why this peer's certificate is refused
        self._refusal_logged = False

    def start(self) -> None:
        # Runs until stopped: a bug that ends it would leave the peer undialled for good.
        self._task = spawn(self._run(), f"peer-{self.node_id}", self.on_failure, forever=True)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.channel is not None:
            await self.channel.close()

    def send_consensus(self, channel: str, envelope: bytes) -> None:
        self._enqueue(self.consensus, channel, envelope)

    def send_txs(self, channel: str, txs: list[bytes]) -> None:
        self._enqueue(self.txs, channel, *txs)

    def _enqueue(self, table: dict[str, _Queue], channel: str, *items: bytes) -> None:
        """Queue `items` in order; past the frame or byte bound the oldest are dropped."""
        queue = table.get(channel)
        if queue is None:
            queue = table[channel] = _Queue()
        queue.extend(items)
        queue.size += sum(map(len, items))
        while len(queue) > 1 and (
            len(queue) > self.queue_frames_max or queue.size > self.queue_bytes_max
        ):
            old = len(queue.popleft())  # the oldest goes first
            queue.size -= old
            self.dropped += 1
        self.wakeup.set()

    @property
    def queued_bytes(self) -> int:
        """Bytes waiting for this peer, all queues together (read rarely: no counter)."""
        return sum(q.size for table in (self.consensus, self.txs) for q in table.values())

    def stub(self) -> api_grpc.PeerStub:
        if self.channel is None:
            if self.credentials is None:
                self.channel = grpc.aio.insecure_channel(self.address, options=self.options)
            else:
                options = [
                    *self.options,
                    ("grpc.ssl_target_name_override", validator_dns_name(self.public_key)),
                ]
                self.channel = grpc.aio.secure_channel(
                    self.address, self.credentials, options=options
                )
        return api_grpc.PeerStub(self.channel)

    async def _frames(self) -> AsyncIterator[api.PeerFrame]:
        yield api.PeerFrame(hello=make_hello(self.chain_id, self.signer, self.public_key))
        self.connected = True
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            if self._now_revoked():
                return  # ends the stream; `_run` finds the peer revoked and holds off
            # In rounds: first at most one frame of gossip per channel, then the
            # consensus messages queued when the round began, until nothing is left. A
            # pre-prepare names its block's txs by id only (compact blocks) and the peer
            # admits a frame's txs before it reads the next frame, so the txs this node
            # gossiped just before cutting a block reach the peer ahead of it; yet votes
            # never wait behind more than a frame of gossip per channel (draining all the
            # gossip first held them behind a saturated link's whole backlog).
            for table, make, limit in (
                (self.txs, _tx_frame, self.BATCH_ENVELOPES_MAX),
                (self.consensus, _consensus_frame, None),
            ):
                for channel, queue in list(table.items()):  # may grow while we yield
                    budget = len(queue) if limit is None else limit
                    while queue and budget > 0:
                        n = min(len(queue), self.BATCH_ENVELOPES_MAX, budget)
                        budget -= n
                        items = [queue.popleft() for _ in range(n)]
                        size = sum(len(x) for x in items)
                        queue.size -= size
                        yield make(channel, items)
            if self._has_frames():
                self.wakeup.set()  # the next round

    def _has_frames(self) -> bool:
        return any(q for table in (self.consensus, self.txs) for q in table.values())

    async def _run(self) -> None:
        """Connect once there is something to send: an observer, or a node whose key the
        peer does not know (yet), would only have its hello refused over and over."""
        backoff = 0.05
        while True:
            while not self._has_frames():
                self.wakeup.clear()
                await self.wakeup.wait()
            if await self._refuse_revoked():
                await asyncio.sleep(backoff)  # unreachable: as a failed connection would
                backoff = min(backoff * 2, 2.0)
                self.wakeup.set()
                continue
            try:
                await self.stub().Stream(self._frames())
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as e:
                if self.connected:
                    log.info("peer stream closed", peer=self.node_id, code=e.code().name)
            if self.connected:
                backoff = 0.05
            self.connected = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
            self.wakeup.set()

    def _now_revoked(self) -> bool:
        """Whether the CRL (re-read if it changed) now lists the certificate this link
        saw at connect."""
        if self.revocation is None or self.peer_certificate is None:
            return False
        self.revoked = self.revocation.why_revoked(self.peer_certificate)
        return self.revoked is not None

    async def _refuse_revoked(self) -> bool:
        """Before connecting: read the peer's certificate. Unreachable: do not connect
        yet (a stream opened without the certificate seen could not be cut when it is
        revoked). Revoked: send it nothing (its queued frames dropped), say so once, and
        look again later."""
        if self.revocation is None:
            return False
        self.peer_certificate = await self.revocation.certificate(self.address, self.public_key)
        if self.peer_certificate is None:
            return True
        if not self._now_revoked():
            self._refusal_logged = False
            return False
        if not self._refusal_logged:
            self._refusal_logged = True
            log.warning(
                "not sending to a peer whose certificate is revoked",
                peer=self.node_id,
                why=self.revoked,
            )
        for table in (self.consensus, self.txs):
            table.clear()
        await asyncio.sleep(self.REVOKED_RECHECK_S)
        self.wakeup.set()
        return True


class _Queue(deque[bytes]):
    """A peer's frames of one kind and channel, with their total size."""

    size = 0


def _consensus_frame(channel: str, items: list[bytes]) -> api.PeerFrame:
    return api.PeerFrame(consensus=api.ConsensusBatch(channel=channel, envelopes=items))


def _tx_frame(channel: str, items: list[bytes]) -> api.PeerFrame:
    return api.PeerFrame(txs=api.TxGossip(channel=channel, txs=items))
