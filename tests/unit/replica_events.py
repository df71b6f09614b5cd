"""What the tests of one real Replica share: validators 0..3 (n=4, f=1, quorum 3), crafted
and validly signed events (pre-prepares, votes, view changes, checkpoint proofs), and
checks on the actions a step returns (exactly one Reject and nothing else, a pre-prepare
accepted with its slot persisted before the PREPARE goes out).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from google.protobuf.message import Message

from consensus.actions import (
    Action,
    Broadcast,
    CancelTimer,
    Persist,
    Reject,
    SetTimer,
)
from consensus.blocks import BlockInfo, make_block
from consensus.config import ConsensusConfig
from consensus.events import MessageReceived
from consensus.hashing import ZERO_HASH, sha256
from consensus.messages import Signed, sign, vote
from consensus.persisted import SlotRecord
from consensus.reasons import Reason
from consensus.replica import Replica
from protos import consensus_pb2 as pb
from sim.crypto import SimTxChecker, make_signers, make_tx, make_verifier

CHANNEL = "health-records"
SIGNERS = make_signers(4)
KEYS = tuple(s.public_key for s in SIGNERS)
VERIFIER = make_verifier(SIGNERS)


def config(**limits: int) -> ConsensusConfig:
    return ConsensusConfig(channel=CHANNEL, validators=KEYS, **limits)


def new_replica(index: int = 1, **limits: int) -> Replica:
    return Replica(config(**limits), SIGNERS[index], make_verifier(SIGNERS), SimTxChecker())


def signed(by: int, kind: str, payload: Message, channel: str = CHANNEL) -> Signed:
    return sign(SIGNERS[by], channel, kind, payload)


def received(
    by: int, kind: str, payload: Message, blocks: Iterable[pb.Block] = ()
) -> MessageReceived:
    return MessageReceived(signed(by, kind, payload), tuple(blocks))


def txs(*nonces: int) -> tuple[bytes, ...]:
    return tuple(make_tx(0, n) for n in nonces)


def block(
    height: int = 1,
    body: Sequence[bytes] = txs(1),
    view: int = 0,
    parent: bytes = ZERO_HASH,
    proposer: int | None = None,
) -> BlockInfo:
    by = view % len(KEYS) if proposer is None else proposer
    return make_block(config(), height, view, parent, body, KEYS[by], 1000 + height)


def pre_prepare(
    info: BlockInfo,
    by: int | None = None,
    view: int = 0,
    attached: Sequence[pb.Block] | None = None,
) -> MessageReceived:
    sender = view % len(KEYS) if by is None else by
    blocks = (info.block,) if attached is None else attached
    return received(sender, "pre_prepare", vote(view, info.height, info.digest), blocks)


def prepare(by: int, info: BlockInfo, view: int = 0) -> MessageReceived:
    return received(by, "prepare", vote(view, info.height, info.digest))


def commit(by: int, info: BlockInfo, view: int = 0) -> MessageReceived:
    return received(by, "commit", vote(view, info.height, info.digest))


def view_change(by: int, new_view: int, **fields: object) -> Signed:
    return signed(by, "view_change", pb.ViewChange(new_view=new_view, **fields))


def new_view(by: int, view: int, senders: Iterable[int]) -> MessageReceived:
    changes = [view_change(s, view).to_pb() for s in senders]
    return received(by, "new_view", pb.NewView(view=view, view_changes=changes))


def rejects(actions: Iterable[Action]) -> list[tuple[bytes, str, Reason]]:
    return [(a.sender, a.what, a.reason) for a in actions if isinstance(a, Reject)]


def effects(actions: Iterable[Action]) -> list[Action]:
    """Actions other than timer bookkeeping (the view-change timer is armed on most steps)."""
    return [a for a in actions if not isinstance(a, SetTimer | CancelTimer)]


def broadcasts(actions: Iterable[Action], kind: str) -> list[Broadcast]:
    return [a for a in actions if isinstance(a, Broadcast) and a.message.kind == kind]


def only_reject(actions: list[Action], sender: int | bytes, what: str, reason: Reason) -> None:
    """The step refused its input and did nothing else: no persist, no vote, no execution."""
    key = KEYS[sender] if isinstance(sender, int) else sender
    assert rejects(actions) == [(key, what, reason)]
    assert [a for a in effects(actions) if not isinstance(a, Reject)] == []


def index_of(actions: list[Action], wanted: type, kind: str | None = None) -> int:
    for i, a in enumerate(actions):
        if isinstance(a, wanted) and (kind is None or a.message.kind == kind):  # type: ignore[attr-defined]
            return i
    raise AssertionError(f"no {wanted.__name__} {kind or ''} in {actions}")


def assert_accepted(actions: list[Action], info: BlockInfo, view: int = 0) -> None:
    """A pre-prepare was accepted: its slot is persisted, then our PREPARE goes out."""
    assert rejects(actions) == []
    record = SlotRecord(info.height, view, info.block, -1, None, ())
    persisted_at = [
        i for i, a in enumerate(actions) if isinstance(a, Persist) and record in a.records
    ]
    assert len(persisted_at) == 1
    sent = broadcasts(actions, "prepare")
    assert [b.message.payload for b in sent] == [vote(view, info.height, info.digest)]
    assert persisted_at[0] < index_of(actions, Broadcast, "prepare")


def prepared_replica(info: BlockInfo) -> Replica:
    """Validator 1 holding `info` prepared at height 1 (it has sent its COMMIT)."""
    r = new_replica()
    r.step(pre_prepare(info))
    r.step(prepare(0, info))
    out = r.step(prepare(2, info))
    assert len(broadcasts(out, "commit")) == 1
    return r


def commit_cert(info: BlockInfo, senders: Iterable[int], view: int = 0) -> list[pb.SignedMessage]:
    return [commit(s, info, view).message.to_pb() for s in senders]


def prepares_for(info: BlockInfo, senders: Iterable[int]) -> list[pb.SignedMessage]:
    return [prepare(s, info).message.to_pb() for s in senders]


def checkpoint_proof(senders: Iterable[int], height: int = 8) -> list[pb.SignedMessage]:
    payload = pb.Checkpoint(height=height, block_hash=sha256(b"b8"), state_root=sha256(b"s8"))
    return [signed(s, "checkpoint", payload).to_pb() for s in senders]


def forged(raw: pb.SignedMessage) -> pb.SignedMessage:
    return pb.SignedMessage(body=raw.body, signature=bytes(b ^ 1 for b in raw.signature))
