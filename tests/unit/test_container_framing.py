"""What travels beside a signature is kept in its one canonical form too (issue 11 §1, §3).

A block's header and txs are named by its digest and Merkle root, and a certificate's votes
by their signed bodies; but the containers around them (`Block`, the `SignedMessage` of a
commit or checkpoint vote) are not signed, and protobuf keeps whatever unknown fields a
sender appends. A replica keeps only the named parts, detached from the envelope they came
in: otherwise a Byzantine peer's padding is stored in every ledger and served to every
fetcher, a padded checkpoint proof makes our own VIEW-CHANGE non-canonical (so every peer
refuses it), and one small kept block pins the whole parsed envelope in memory.
"""

from __future__ import annotations

import subprocess
import sys

from consensus.actions import Broadcast, ExecuteBlock, Persist
from consensus.events import BlocksFetched, MessageReceived
from consensus.messages import parse_signed
from consensus.persisted import SlotRecord
from consensus.reasons import Reason
from protos import consensus_pb2 as pb
from tests.unit.replica_events import (
    block,
    checkpoint_proof,
    commit_cert,
    new_replica,
    pre_prepare,
    rejects,
    txs,
    view_change,
)

JUNK = b"\x1a\x05junk!"  # field 3, length-delimited: unknown to Block and SignedMessage


def padded_block(b: pb.Block) -> pb.Block:
    out = pb.Block()
    out.ParseFromString(b.SerializeToString() + JUNK)
    return out


def padded_vote(raw: pb.SignedMessage) -> pb.SignedMessage:
    out = pb.SignedMessage()
    out.ParseFromString(raw.SerializeToString() + JUNK)
    return out


def test_a_padded_block_is_accepted_but_kept_and_persisted_without_the_padding() -> None:
    r = new_replica()
    info = block()
    out = r.step(pre_prepare(info, attached=[padded_block(info.block)]))
    assert rejects(out) == []
    (record,) = [x for a in out if isinstance(a, Persist) for x in a.records]
    assert isinstance(record, SlotRecord)
    assert record.accepted is not None
    assert record.accepted.SerializeToString() == info.block.SerializeToString()


def test_a_kept_block_is_detached_from_the_message_it_came_in() -> None:
    """Kept in the log, in the early-vote buffer and among orphans: a later change to the
    received object (in the node: the rest of its parsed envelope) does not reach it."""
    r = new_replica(2)
    now, early = block(1, txs(1)), block(1, txs(2), view=5, proposer=1)
    orphan = block(3, txs(3), parent=b"\x01" * 32)
    sent = [pb.Block(), pb.Block(), pb.Block()]
    for b, info in zip(sent, (now, early, orphan), strict=True):
        b.CopyFrom(info.block)
    r.step(pre_prepare(now, attached=[sent[0]]))
    r.step(pre_prepare(early, by=1, view=5, attached=[sent[1]]))
    r.step(pre_prepare(orphan, attached=[sent[2]]))
    for b in sent:
        b.txs.append(b"changed after it was received")
    kept = [
        r.slots[1].accepted.block,  # type: ignore[union-attr]
        r.future[r.cfg.validators[1]][0].blocks[0],
        r.orphans[3].blocks[0],
    ]
    for k, info in zip(kept, (now, early, orphan), strict=True):
        assert list(k.txs) == list(info.txs)


def test_a_fetched_block_with_padded_containers_is_executed_and_stored_clean() -> None:
    r = new_replica()
    info = block()
    clean = pb.CertifiedBlock(block=info.block, commits=commit_cert(info, [0, 2, 3]))
    padded = pb.CertifiedBlock(
        block=padded_block(info.block), commits=[padded_vote(c) for c in clean.commits]
    )
    out = r.step(BlocksFetched((padded,)))
    (done,) = [a for a in out if isinstance(a, ExecuteBlock)]
    assert done.certified.SerializeToString() == clean.SerializeToString()


def test_a_padded_checkpoint_proof_from_a_fetch_leaves_our_view_change_canonical() -> None:
    """A Byzantine peer answers a fetch with a valid checkpoint proof whose vote wrappers
    are padded. The replica adopts the checkpoint; the VIEW-CHANGE it then signs carries
    that proof, and must still be canonical, or every peer refuses it."""
    r = new_replica(2)
    proof = tuple(padded_vote(v) for v in checkpoint_proof([0, 1, 3]))
    r.step(BlocksFetched((), checkpoint=proof, source=r.cfg.validators[3]))
    assert r.stable.height == 8
    r.step(MessageReceived(view_change(3, 1)))
    out = r.step(MessageReceived(view_change(0, 1)))  # f+1 = 2: the replica joins view 1
    (sent,) = [a for a in out if isinstance(a, Broadcast) and a.message.kind == "view_change"]
    parsed = parse_signed(sent.message.to_pb(), r.cfg)
    assert not isinstance(parsed, Reason), parsed


MEMORY_PROBE = """
import resource
from consensus.events import MessageReceived
from consensus.messages import decode_envelope, encode_envelope
from tests.unit.replica_events import block, new_replica, signed
from consensus.messages import vote

r = new_replica(2)
chaff = [block(1, (bytes(1 << 20),) * 8, view=5, proposer=1).block] * 5  # 40 MiB unparsed
for h in range(1, 21):
    info = block(h, view=5, proposer=1)
    msg = signed(1, "pre_prepare", vote(5, h, info.digest))
    data = encode_envelope(msg, [info.block, *chaff])
    got = decode_envelope(data, r.cfg, 1 << 30)
    r.step(MessageReceived(got[0], got[1]))
    del got, data
assert len(r.future[r.cfg.validators[1]]) == 20
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_an_early_pre_prepare_pins_only_its_own_block_not_the_envelope() -> None:
    """20 buffered early pre-prepares, each sent with 40 MiB of other attached blocks: the
    replica's byte bound counts only the named blocks, so that must be all it holds."""
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, check=True
    )
    peak_mib = int(out.stdout.strip())
    assert peak_mib < 400, f"peak RSS {peak_mib} MiB: buffered blocks pin whole envelopes"
