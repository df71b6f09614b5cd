"""Compact blocks: a pre-prepare's block travels as its header and tx ids.

Every tx already reached every node by gossip when its admitting node took it in; sending
it again inside the primary's pre-prepare doubled the bytes on each link and the parsing
on each node. So the primary broadcasts each pre-prepare's block in compact form (the
header and the channel's suite hash of each tx, `Block.tx_ids`), and keeps the full block
for a while (`SentBlocks`) to answer `FetchTxs` for the txs a receiver lacks.

A receiver rebuilds the block from the txs its mempool holds (`open_compact`), asks the
sender for the missing ones (`fetch_txs`: by id, or the whole block when most are
missing), checks every fetched tx against its id and the rebuilt block against the
header's `tx_root` (`finish`), and only then hands the full block to the core, which
never sees a compact one. A block that cannot be rebuilt is not delivered: the request
timer then does what it does for a primary that withholds a block.

Byzantine input is refused with a reason (`REASONS`), counted and logged sampled; memory
for compact blocks waiting on a fetch is bounded in count and bytes (`Rebuilds`), as is
what the sender keeps for fetches (`SentBlocks`).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError

from consensus.config import ConsensusConfig
from consensus.hashing import DIGEST_BYTES
from consensus.messages import Signed, encode_envelope
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import consensus_pb2 as pb

# The `outcome` label of govchain_compact_blocks_total: rebuilt from the mempool alone,
# rebuilt after fetching some txs by id, a full block (sent full, or fetched whole), or
# not rebuilt (refused: see the reason).
OUTCOMES = ("complete", "fetched", "full", "failed")
# Why a compact block was refused: the `reason` label of govchain_compact_refusals_total.
REASONS = (
    "malformed",  # txs and ids both, an id not a digest, a header that does not parse
    "too_many_ids",  # more ids than the genesis block_txs_max
    "duplicate_ids",  # an id twice: a block never holds a tx twice
    "root_mismatch",  # the rebuilt txs are not what the header's tx_root commits to
    "too_large",  # the rebuilt txs exceed block_bytes_max
    "bad_answer",  # a FetchTxs answer with txs other than, or more than, those asked
    "unavailable",  # the sender did not answer a FetchTxs in time (or at all)
    "busy",  # too many compact blocks wait on fetches already
    "not_current_view",  # txs missing from a pre-prepare of another view: not fetched
)

TxId = Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class Partial:
    """A compact block opened against the txs held here: `txs[k]` is None for each
    index in `missing`."""

    header: bytes
    tx_ids: tuple[bytes, ...]
    txs: tuple[bytes | None, ...]
    missing: tuple[int, ...]

    @property
    def held_bytes(self) -> int:
        return len(self.header) + sum(len(t) for t in self.txs if t is not None)

    def wants_whole(self) -> bool:
        """Ask for the whole block rather than by id when most txs are missing: the
        request is then a digest, not a list of ids nearly as long as the block."""
        return 2 * len(self.missing) > len(self.tx_ids)


def compact_form(block: pb.Block, tx_id: TxId) -> pb.Block:
    """The block as a pre-prepare sends it: the header and each tx's id, in order."""
    return pb.Block(header=block.header, tx_ids=[tx_id(tx) for tx in block.txs])


def is_compact(blocks: Iterable[pb.Block]) -> bool:
    """Whether any attached block is in compact form (only a pre-prepare's may be)."""
    return any(len(b.tx_ids) for b in blocks)


def open_compact(
    block: pb.Block, cfg: ConsensusConfig, held: Callable[[bytes], bytes | None]
) -> Partial | str:
    """The compact block with the txs `held` here filled in, or why it is refused.

    - a block has txs or tx ids, not both; each id is a digest;
    - at most `block_txs_max` ids (the genesis limit: a block could hold no more);
    - no id twice (the core would refuse the block; nothing is fetched for it)."""
    if len(block.txs):
        return "malformed"
    ids = tuple(block.tx_ids)
    if len(ids) > cfg.block_txs_max:
        return "too_many_ids"
    if any(len(i) != DIGEST_BYTES for i in ids):
        return "malformed"
    if len(set(ids)) != len(ids):
        return "duplicate_ids"
    txs = tuple(held(i) for i in ids)
    missing = tuple(k for k, tx in enumerate(txs) if tx is None)
    return Partial(block.header, ids, txs, missing)


def fill(partial: Partial, answer: Sequence[bytes], tx_id: TxId) -> list[bytes] | str:
    """The block's txs with a FetchTxs answer filled in, or "bad_answer": the answer
    must hold exactly the txs asked (all of them if `wants_whole`), in order, each
    hashing to its id."""
    asked = range(len(partial.tx_ids)) if partial.wants_whole() else partial.missing
    if len(answer) != len(asked):
        return "bad_answer"
    txs = list(partial.txs)
    for k, tx in zip(asked, answer, strict=True):
        if tx_id(tx) != partial.tx_ids[k]:
            return "bad_answer"
        txs[k] = tx
    return txs  # type: ignore[return-value]  # every None was in `asked`


def finish(header: bytes, txs: Sequence[bytes], cfg: ConsensusConfig) -> pb.Block | str:
    """The full block, once its txs are what the header commits to, or why not:
    within `block_bytes_max`, and the Merkle root of the txs is the header's `tx_root`
    (ids a primary made up, reordered or left out are caught here, before the core)."""
    if sum(len(tx) for tx in txs) > cfg.block_bytes_max:
        return "too_large"
    parsed = pb.BlockHeader()
    try:
        parsed.ParseFromString(header)
    except DecodeError:
        return "malformed"
    if parsed.tx_root != cfg.hashing.merkle_root(txs):
        return "root_mismatch"
    return pb.Block(header=header, txs=txs)


class SentBlocks:
    """The full blocks this node recently sent in compact form, for FetchTxs: at most
    `blocks_max` blocks and `bytes_max` bytes, the oldest forgotten first (a receiver
    asks within a fetch timeout of the pre-prepare, so only the last few matter)."""

    def __init__(self, blocks_max: int = 16, bytes_max: int = 8 << 20) -> None:
        self.blocks_max = blocks_max
        self.bytes_max = bytes_max
        self.bytes = 0
        self._blocks: OrderedDict[tuple[str, bytes], tuple[tuple[bytes, ...], list[bytes]]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._blocks)

    def remember(self, channel: str, digest: bytes, ids: Sequence[bytes], txs: list[bytes]) -> None:
        key = (channel, digest)
        if key in self._blocks:
            return
        self._blocks[key] = (tuple(ids), txs)
        self.bytes += sum(len(t) for t in txs)
        while len(self._blocks) > 1 and (
            len(self._blocks) > self.blocks_max or self.bytes > self.bytes_max
        ):
            _, (_, old) = self._blocks.popitem(last=False)
            self.bytes -= sum(len(t) for t in old)

    def answer(self, channel: str, digest: bytes, ids: Sequence[bytes]) -> list[bytes] | None:
        """The txs asked for, in the order asked (every tx when `ids` is empty), or None
        when the block is not kept here or does not hold one of them."""
        held = self._blocks.get((channel, digest))
        if held is None:
            return None
        block_ids, txs = held
        if not ids:
            return list(txs)
        index = dict(zip(block_ids, txs, strict=True))
        out = [index.get(i) for i in ids]
        return None if any(tx is None for tx in out) else out  # type: ignore[return-value]


class Rebuilds:
    """Compact blocks waiting on a fetch: at most `count_max` at once and `bytes_max`
    bytes of txs held for them, so a primary that sends compact blocks nobody can
    complete pins little memory here. Also the counters the metrics read."""

    def __init__(self, count_max: int = 8, bytes_max: int = 8 << 20) -> None:
        self.count_max = count_max
        self.bytes_max = bytes_max
        self.count = 0
        self.bytes = 0
        self.outcomes: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()

    def reserve(self, size: int) -> bool:
        """Take room for one more waiting block holding `size` bytes, if there is room."""
        if self.count >= self.count_max or self.bytes + size > self.bytes_max:
            return False
        self.count += 1
        self.bytes += size
        return True

    def release(self, size: int) -> None:
        self.count -= 1
        self.bytes -= size


class CompactBlocks:
    """One channel's compact-block state: the blocks it sent (for FetchTxs) and the
    ones it is rebuilding, with the counters the metrics read."""

    def __init__(self, cfg: ConsensusConfig, tx_id: TxId) -> None:
        self.cfg = cfg
        self.tx_id = tx_id
        self.sent = SentBlocks()
        self.rebuilds = Rebuilds()

    def encode_broadcast(self, message: Signed, blocks: Sequence[pb.Block]) -> bytes:
        """The wire form of a broadcast: a pre-prepare's block in compact form (the full
        one kept for FetchTxs); anything else as it is."""
        if message.kind != "pre_prepare" or not any(len(b.txs) for b in blocks):
            return encode_envelope(message, blocks)
        out = []
        for block in blocks:
            compact = compact_form(block, self.tx_id)
            digest = self.cfg.hashing.hash(block.header)
            self.sent.remember(self.cfg.channel, digest, compact.tx_ids, list(block.txs))
            out.append(compact)
        return encode_envelope(message, out)


async def fetch_txs(
    stub: api_grpc.PeerStub, channel: str, digest: bytes, partial: Partial, timeout_s: float
) -> list[bytes] | None:
    """Ask the sender (its Peer stub) for the txs `partial` lacks (the whole block if
    most are missing); None if it does not answer in time or refuses. The answer's size
    is bounded by the link's receive limit (fetch_answer_bytes_max)."""
    ids = [] if partial.wants_whole() else [partial.tx_ids[k] for k in partial.missing]
    request = api.FetchTxsRequest(channel=channel, digest=digest, tx_ids=ids)
    try:
        reply = await stub.FetchTxs(request, timeout=timeout_s)
    except grpc.aio.AioRpcError:
        return None
    return list(reply.txs)
