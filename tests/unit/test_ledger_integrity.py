"""A damaged ledger is found at startup, on the in-memory store and on LevelDB.

The node's startup check (`ChannelLedger.verify_integrity` for the layout, then the
core's certificate check, node/integrity.py) pins each kind of damage to the right
channel and height.
"""

from __future__ import annotations

import pytest

from consensus.hashing import sha256
from node.integrity import check_ledger
from protos import consensus_pb2 as pb
from protos import storage_pb2
from sim.crypto import make_tx, make_verifier
from storage.ledger import ChannelLedger, CorruptLedger
from tests.unit.ledger_blocks import (
    CFG,
    CHANNEL,
    GENESIS,
    SIGNERS,
    Built,
    append,
    build,
    chain,
    h8,
)

# ------------------------------------------------------------------ ledger: integrity


def corrupt_at(ledger: ChannelLedger, height: int, full: bool = False) -> CorruptLedger:
    """The node's startup check: the ledger's layout, then the core's certificates."""
    with pytest.raises(CorruptLedger) as err:
        check_ledger(ledger, CFG, make_verifier(SIGNERS), full=full)
    exc = err.value
    assert (exc.channel, exc.height) == (CHANNEL, height), exc
    assert CHANNEL in str(exc) and f"height {height}" in str(exc)
    return exc


def put_block(ledger: ChannelLedger, height: int, certified: pb.CertifiedBlock) -> None:
    ledger.store.write([(b"b:" + h8(height), certified.SerializeToString())])


def healthy(ledger: ChannelLedger, count: int = 5) -> list[Built]:
    blocks = chain(count)
    append(ledger, blocks[:2])
    append(ledger, blocks[2:])
    return blocks


def test_a_healthy_ledger_passes_both_checks(ledger: ChannelLedger) -> None:
    verifier = make_verifier(SIGNERS)
    check_ledger(ledger, CFG, verifier)  # empty
    check_ledger(ledger, CFG, verifier, full=True)
    healthy(ledger)
    check_ledger(ledger, CFG, verifier)
    check_ledger(ledger, CFG, verifier, full=True)


def test_a_deleted_block_is_detected(ledger: ChannelLedger) -> None:
    healthy(ledger)
    ledger.store.write([], deletes=[b"b:" + h8(3)])
    assert "missing" in corrupt_at(ledger, 3).what


def test_a_deleted_tip_block_is_detected(ledger: ChannelLedger) -> None:
    healthy(ledger)
    ledger.store.write([], deletes=[b"b:" + h8(5)])
    corrupt_at(ledger, 5)


@pytest.mark.parametrize("field_name", ["timestamp_ms", "parent_hash", "height"])
def test_an_altered_header_is_detected_at_its_height(
    ledger: ChannelLedger, field_name: str
) -> None:
    blocks = healthy(ledger)
    certified = pb.CertifiedBlock()
    certified.CopyFrom(blocks[2].certified)
    header = pb.BlockHeader.FromString(certified.block.header)
    if field_name == "parent_hash":
        header.parent_hash = bytes([header.parent_hash[0] ^ 1]) + header.parent_hash[1:]
    else:
        setattr(header, field_name, getattr(header, field_name) + 1)
    certified.block.header = header.SerializeToString()
    put_block(ledger, 3, certified)
    corrupt_at(ledger, 3)


def test_a_flipped_header_byte_is_detected_at_its_height(ledger: ChannelLedger) -> None:
    blocks = healthy(ledger)
    certified = pb.CertifiedBlock()
    certified.CopyFrom(blocks[1].certified)
    raw = bytearray(certified.block.header)
    raw[-1] ^= 0x01
    certified.block.header = bytes(raw)
    put_block(ledger, 2, certified)
    corrupt_at(ledger, 2)


def test_a_block_replaced_by_another_validly_certified_one_is_detected(
    ledger: ChannelLedger,
) -> None:
    blocks = healthy(ledger)
    fork = build(3, blocks[1].info.digest, salt=7)  # same parent, other txs, own certificate
    put_block(ledger, 3, fork.certified)
    corrupt_at(ledger, 3)
    corrupt_at(ledger, 3, full=True)


def test_a_tip_pointing_to_a_wrong_hash_is_detected(ledger: ChannelLedger) -> None:
    healthy(ledger)
    tip = storage_pb2.Tip(height=5, hash=sha256(b"elsewhere"), state_root=ledger.tip().state_root)
    ledger.store.write([(b"m:tip", tip.SerializeToString())])
    reopened = ChannelLedger(ledger.store, CHANNEL, GENESIS)
    assert "tip hash" in corrupt_at(reopened, 5).what


def test_a_tip_above_the_stored_blocks_is_detected(ledger: ChannelLedger) -> None:
    healthy(ledger)
    tip = ledger.tip()
    tip.height = 7
    ledger.store.write([(b"m:tip", tip.SerializeToString())])
    corrupt_at(ChannelLedger(ledger.store, CHANNEL, GENESIS), 6)


def test_a_tip_below_the_stored_blocks_is_detected(ledger: ChannelLedger) -> None:
    blocks = healthy(ledger)
    tip = storage_pb2.Tip(height=4, hash=blocks[3].info.digest, state_root=bytes(32))
    ledger.store.write([(b"m:tip", tip.SerializeToString())])
    corrupt_at(ChannelLedger(ledger.store, CHANNEL, GENESIS), 5)


def forged(built: Built, commits: list[pb.SignedMessage]) -> pb.CertifiedBlock:
    return pb.CertifiedBlock(block=built.info.block, commits=commits)


@pytest.mark.parametrize("forgery", ["bad_signature", "short", "duplicate_signer", "other_block"])
def test_a_forged_tip_certificate_is_detected(ledger: ChannelLedger, forgery: str) -> None:
    blocks = healthy(ledger)
    tip_block = blocks[-1]
    commits = list(tip_block.certified.commits)
    if forgery == "bad_signature":
        commits[1] = pb.SignedMessage(body=commits[1].body, signature=bytes(32))
    elif forgery == "short":
        commits = commits[:2]
    elif forgery == "duplicate_signer":
        commits[2] = commits[0]
    else:
        commits = list(blocks[-2].certified.commits)  # a real certificate, for block 4
    put_block(ledger, 5, forged(tip_block, commits))
    ledger.verify_integrity(full=True)  # the layout is whole: certificates are the core's
    assert "certificate" in corrupt_at(ledger, 5).what


def test_a_forged_inner_certificate_is_found_only_by_the_full_check(
    ledger: ChannelLedger,
) -> None:
    blocks = healthy(ledger)
    commits = list(blocks[1].certified.commits)
    commits[0] = pb.SignedMessage(body=commits[0].body, signature=bytes(32))
    put_block(ledger, 2, forged(blocks[1], commits))
    check_ledger(ledger, CFG, make_verifier(SIGNERS))  # cheap: certificates of the tip only
    corrupt_at(ledger, 2, full=True)


def test_txs_not_matching_their_header_are_found_by_the_full_check(
    ledger: ChannelLedger,
) -> None:
    blocks = healthy(ledger)
    certified = pb.CertifiedBlock()
    certified.CopyFrom(blocks[3].certified)
    certified.block.txs[0] = make_tx(5, 999)
    put_block(ledger, 4, certified)
    check_ledger(ledger, CFG, make_verifier(SIGNERS))
    assert "tx root" in corrupt_at(ledger, 4, full=True).what


def test_missing_results_are_detected(ledger: ChannelLedger) -> None:
    healthy(ledger)
    ledger.store.write([], deletes=[b"r:" + h8(2)])
    assert "results" in corrupt_at(ledger, 2).what


def test_a_ledger_written_before_state_sums_is_refused_with_what_to_do(
    ledger: ChannelLedger,
) -> None:
    from node.config import ConfigError, Limits
    from node.integrity import check_channel

    check_channel(ledger, CFG, make_verifier(SIGNERS), Limits(), b"")  # empty: fine
    healthy(ledger)  # tips as written before 2026-11-30: no state sum
    with pytest.raises(ConfigError, match=r"before state sums(.|\n)*empty data directory"):
        check_channel(ledger, CFG, make_verifier(SIGNERS), Limits(), b"")
    tip = ledger.tip()
    tip.state_sum = bytes(512)
    ledger.store.write([(b"m:tip", tip.SerializeToString())])
    check_channel(
        ChannelLedger(ledger.store, CHANNEL, GENESIS), CFG, make_verifier(SIGNERS), Limits(), b""
    )
