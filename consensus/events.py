"""Events: everything that can happen to a replica. The caller feeds them to `step`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from consensus.messages import Signed
from consensus.persisted import PersistedState
from protos import consensus_pb2 as pb


class Timer(StrEnum):
    """Timers the core asks for with SetTimer; each fires back as a Tick."""

    BLOCK_CUT = "block_cut"  # primary: close a partly filled block
    VIEW_CHANGE = "view_change"  # work outstanding too long, or a new view too slow
    STATUS = "status"  # heartbeat: retransmit, detect lag, retry fetches


@dataclass(frozen=True, slots=True)
class TxsReady:
    """Client txs the node admitted (signature-checked) and wants ordered.

    `now_ms` is the node's wall clock, passed in as data: the primary stamps blocks with it.
    """

    txs: tuple[bytes, ...]
    now_ms: int = 0


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A consensus message whose outer signature the node has checked, with attached blocks.

    `now_ms` is the node's wall clock when the message arrived (data, like every time the
    core sees): a pre-prepare's block time is judged against it, also when the message is
    taken later from a buffer."""

    message: Signed
    blocks: tuple[pb.Block, ...] = ()
    now_ms: int = 0


@dataclass(frozen=True, slots=True)
class Tick:
    """A timer set by SetTimer has expired. Stale tokens (re-set or cancelled) are ignored."""

    timer: Timer
    token: int
    now_ms: int = 0


@dataclass(frozen=True, slots=True)
class BlocksFetched:
    """Answer to FetchBlocks: committed blocks with their commit certificates, any order,
    and the serving peer's stable checkpoint proof, so the fetcher's watermarks move too.
    `source` is the peer that served them (b"" if unknown): an invalid answer counts
    against it, and the next fetch asks others first. `failure` (no blocks then) says the
    node got no usable answer from `source` ("timeout", "error", "too_large", …): that
    peer, too, is asked last for a while."""

    blocks: tuple[pb.CertifiedBlock, ...]
    checkpoint: tuple[pb.SignedMessage, ...] = ()
    source: bytes = b""
    failure: str = ""


@dataclass(frozen=True, slots=True)
class Executed:
    """The executor applied block `height`; `state_root` goes into the checkpoint."""

    height: int
    block_hash: bytes
    state_root: bytes


@dataclass(frozen=True, slots=True)
class Restored:
    """Start (or restart) from what storage holds: the persisted consensus state."""

    state: PersistedState


@dataclass(frozen=True, slots=True)
class PeerLinkChanged:
    """The node's link to `peer` ended (`up` False: its last inbound stream closed, as
    when its process dies) or came back (a new stream passed the hello). A hint, not a
    proof: it only shortens this replica's own request timer while the peer is primary
    (`primary_suspect_ticks`), and one replica's VIEW-CHANGE moves no other."""

    peer: bytes
    up: bool


Event = TxsReady | MessageReceived | Tick | BlocksFetched | Executed | Restored | PeerLinkChanged
