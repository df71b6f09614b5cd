"""Actions: the work `step` hands back. The caller performs them in list order.

The order is a contract: a Persist comes before any Send/Broadcast that depends on it, so
a crash between the two can never make a replica forget a vote it already sent; an
ExecuteBlock is emitted only for a committed block, strictly in height order.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.events import Timer
from consensus.membership import Membership
from consensus.messages import Signed
from consensus.persisted import Record
from consensus.reasons import Reason
from protos import consensus_pb2 as pb


@dataclass(frozen=True, slots=True)
class Persist:
    """Write these records durably (one synced batch) before doing the next action."""

    records: tuple[Record, ...]


@dataclass(frozen=True, slots=True)
class Send:
    to: bytes
    message: Signed
    blocks: tuple[pb.Block, ...] = ()


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send to every other member of the channel's current and next validator sets
    (`Replica.audience`): a validator about to join hears the checkpoint it starts from."""

    message: Signed
    blocks: tuple[pb.Block, ...] = ()


@dataclass(frozen=True, slots=True)
class ExecuteBlock:
    """Apply and store a committed block with its commit certificate; report with Executed.

    `governance` holds the core's verdict on each governance tx of the block (its index,
    and "" if accepted or why it was refused): the executor records these, it does not
    judge them again. `membership`, if set, is the channel's membership after the block,
    to be stored in its world state in the same write."""

    height: int
    certified: pb.CertifiedBlock
    digest: bytes
    governance: tuple[tuple[int, str], ...] = ()
    membership: Membership | None = None


@dataclass(frozen=True, slots=True)
class FetchBlocks:
    """Ask peers for committed blocks [from_height, to_height]; answer with BlocksFetched.

    `peers` lists validators known to have them (best first); any peer may be asked.
    """

    from_height: int
    to_height: int
    peers: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Deliver Tick(timer, token) after `ticks` ticks, replacing any earlier `timer`."""

    timer: Timer
    ticks: int
    token: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: Timer


@dataclass(frozen=True, slots=True)
class Reject:
    """An input was refused or dropped; the node logs and counts it by reason."""

    sender: bytes
    what: str
    reason: Reason
    detail: str = ""


Action = Persist | Send | Broadcast | ExecuteBlock | FetchBlocks | SetTimer | CancelTimer | Reject
