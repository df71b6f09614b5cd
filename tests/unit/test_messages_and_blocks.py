"""Wire decoding, block parsing, Merkle roots and the quorum arithmetic of ConsensusConfig."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import pytest

from consensus.blocks import BlockInfo, make_block, parse_block
from consensus.config import ConsensusConfig
from consensus.hashing import ZERO_HASH, merkle_root, merkle_tree_hash, sha256
from consensus.messages import (
    Signed,
    decode_envelope,
    encode_envelope,
    sign,
    useful_blocks,
    vote,
)
from consensus.reasons import Reason
from protos import consensus_pb2 as pb
from sim.crypto import make_signers, make_tx

CHANNEL = "permits"
SIGNERS = make_signers(5)  # validator 4 is not in the channel
KEYS = tuple(s.public_key for s in SIGNERS[:4])
CFG = ConsensusConfig(channel=CHANNEL, validators=KEYS)
BYTES_MAX = 1 << 16


def keys(n: int) -> tuple[bytes, ...]:
    return tuple(sha256(b"key %d" % i) for i in range(n))


def prepare(by: int = 0, channel: str = CHANNEL) -> Signed:
    return sign(SIGNERS[by], channel, "prepare", vote(1, 2, sha256(b"block")))


def block(
    txs: tuple[bytes, ...] = (make_tx(0, 1), make_tx(0, 2)), cfg: ConsensusConfig = CFG
) -> BlockInfo:
    return make_block(cfg, 1, 0, ZERO_HASH, txs, KEYS[0], 1234)


def with_header(info: BlockInfo, **changes: Any) -> pb.Block:
    """The block with header fields changed, re-serialized (its txs unchanged)."""
    header = pb.BlockHeader()
    header.CopyFrom(info.header)
    for name, value in changes.items():
        setattr(header, name, value)
    return pb.Block(header=header.SerializeToString(deterministic=True), txs=list(info.txs))


def leaf(data: bytes) -> bytes:
    return sha256(b"\x00" + data)


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


# ------------------------------------------------------------------ envelopes


def test_envelope_round_trips_message_and_blocks() -> None:
    msg, info = prepare(2), block()
    decoded = decode_envelope(encode_envelope(msg, [info.block]), CFG, BYTES_MAX)
    assert not isinstance(decoded, Reason)
    got, blocks = decoded
    assert (got.sender, got.body, got.signature) == (msg.sender, msg.body, msg.signature)
    assert got.kind == "prepare"
    assert got.payload == msg.payload
    assert blocks == (info.block,)


@pytest.mark.parametrize(
    "data",
    [b"\xff\xff\xff", b"\x0a\xff", b"garbage bytes", b"\x0a\x05ab"],
    ids=["bad tag", "truncated length", "text", "truncated field"],
)
def test_garbage_envelope_is_malformed(data: bytes) -> None:
    assert decode_envelope(data, CFG, BYTES_MAX) is Reason.MALFORMED


def test_envelope_without_a_message_kind_is_malformed() -> None:
    assert decode_envelope(b"", CFG, BYTES_MAX) is Reason.MALFORMED
    body = pb.ConsensusMessage(channel=CHANNEL, sender=KEYS[0]).SerializeToString()
    data = pb.Envelope(message=pb.SignedMessage(body=body, signature=b"x")).SerializeToString()
    assert decode_envelope(data, CFG, BYTES_MAX) is Reason.MALFORMED


def test_oversize_envelope_is_refused_before_parsing() -> None:
    data = encode_envelope(prepare(), [block().block])
    assert not isinstance(decode_envelope(data, CFG, len(data)), Reason)
    assert decode_envelope(data, CFG, len(data) - 1) is Reason.BLOCK_TOO_LARGE
    assert decode_envelope(b"\xff" * 100, CFG, 99) is Reason.BLOCK_TOO_LARGE


def test_envelope_for_another_channel_is_refused() -> None:
    data = encode_envelope(prepare(channel="tax-records"))
    assert decode_envelope(data, CFG, BYTES_MAX) is Reason.WRONG_CHANNEL


def test_envelope_from_a_non_validator_is_refused() -> None:
    data = encode_envelope(prepare(by=4))
    assert decode_envelope(data, CFG, BYTES_MAX) is Reason.UNKNOWN_SENDER


# ------------------------------------------------------------------ blocks


def test_well_formed_block_parses_with_the_digest_of_its_header_bytes() -> None:
    info = block()
    parsed = parse_block(info.block, CFG)
    assert isinstance(parsed, BlockInfo)
    assert parsed.digest == sha256(info.block.header) == info.digest
    assert (parsed.height, parsed.parent) == (1, ZERO_HASH)
    assert list(parsed.txs) == list(info.txs)
    assert parsed.size_bytes == info.size_bytes


def test_block_whose_merkle_root_does_not_match_its_txs_is_bad() -> None:
    info = block()
    swapped = pb.Block(header=info.block.header, txs=list(reversed(info.txs)))
    assert parse_block(swapped, CFG) is Reason.BAD_BLOCK
    dropped = pb.Block(header=info.block.header, txs=list(info.txs[:1]))
    assert parse_block(dropped, CFG) is Reason.BAD_BLOCK
    assert parse_block(with_header(info, tx_root=sha256(b"x")), CFG) is Reason.BAD_BLOCK


def test_block_for_another_channel_is_refused() -> None:
    other = dataclasses.replace(CFG, channel="tax-records")
    assert parse_block(block(cfg=other).block, CFG) is Reason.WRONG_CHANNEL


def test_block_with_more_than_block_txs_max_txs_is_too_large() -> None:
    cfg = dataclasses.replace(CFG, block_txs_max=3)
    at_limit = block(tuple(make_tx(0, i) for i in range(3)))
    over = block(tuple(make_tx(0, i) for i in range(4)))
    assert isinstance(parse_block(at_limit.block, cfg), BlockInfo)
    assert parse_block(over.block, cfg) is Reason.BLOCK_TOO_LARGE


@pytest.mark.parametrize(
    "changes",
    [{"parent_hash": b"short"}, {"height": 0}, {"proposer": sha256(b"stranger")}],
    ids=["parent length", "height zero", "unknown proposer"],
)
def test_block_with_an_impossible_header_is_bad(changes: dict[str, Any]) -> None:
    assert parse_block(with_header(block(), **changes), CFG) is Reason.BAD_BLOCK


def test_block_with_an_unparsable_header_is_malformed() -> None:
    assert parse_block(pb.Block(header=b"\xff\xff", txs=[b"tx"]), CFG) is Reason.MALFORMED


# ------------------------------------------------------------------ Merkle roots


def test_merkle_root_of_no_leaves_is_the_hash_of_nothing_bound_to_count_zero() -> None:
    assert merkle_tree_hash([]) == sha256(b"")
    assert merkle_root([]) == sha256(b"\x02" + bytes(8) + sha256(b""))
    assert merkle_root([b""]) != merkle_root([])


def test_merkle_tree_hash_follows_rfc6962_with_odd_nodes_promoted() -> None:
    a, b, c = b"a", b"b", b"c"
    assert merkle_tree_hash([a]) == leaf(a)
    assert merkle_tree_hash([a, b]) == node(leaf(a), leaf(b))
    assert merkle_tree_hash([a, b, c]) == node(node(leaf(a), leaf(b)), leaf(c))
    assert merkle_root([a, b, c]) == sha256(
        b"\x02" + (3).to_bytes(8, "big") + merkle_tree_hash([a, b, c])
    )


def test_merkle_root_depends_on_tx_order() -> None:
    txs = [b"a", b"b", b"c"]
    roots = {merkle_root(list(p)) for p in itertools.permutations(txs)}
    assert len(roots) == 6


def test_merkle_root_separates_leaves_from_inner_nodes() -> None:
    """Without the 0x00/0x01 prefixes, the concatenated child hashes taken as one leaf would
    have the same root as the two leaves: a second-preimage forgery of the tx list."""
    pair = [b"a", b"b"]
    assert merkle_root([leaf(b"a") + leaf(b"b")]) != merkle_root(pair)
    assert merkle_root(pair) != sha256(leaf(b"a") + leaf(b"b"))
    assert merkle_root([b"ab"]) != merkle_root(pair)


def test_merkle_root_does_not_collide_on_duplicated_last_leaf() -> None:
    """Bitcoin's duplicate-the-odd-node rule gives [a, b, c] and [a, b, c, c] one root."""
    assert merkle_root([b"a", b"b", b"c"]) != merkle_root([b"a", b"b", b"c", b"c"])


# ------------------------------------------------------------------ config


@pytest.mark.parametrize("n", range(1, 11))
def test_quorum_is_ceil_of_n_plus_f_plus_one_over_two(n: int) -> None:
    cfg = ConsensusConfig(channel=CHANNEL, validators=keys(n))
    assert cfg.n == n
    assert cfg.f == (n - 1) // 3
    assert 3 * cfg.f < n
    assert cfg.quorum == math.ceil((n + cfg.f + 1) / 2)
    if n == 3 * cfg.f + 1:
        assert cfg.quorum == 2 * cfg.f + 1


@pytest.mark.parametrize("n", range(1, 11))
def test_any_two_quorums_share_f_plus_one_replicas_and_honest_ones_form_a_quorum(n: int) -> None:
    cfg = ConsensusConfig(channel=CHANNEL, validators=keys(n))
    q = cfg.quorum
    assert 2 * q - n >= cfg.f + 1  # smallest possible overlap holds an honest replica
    assert q <= n - cfg.f  # the honest replicas alone can finish a round
    if n <= 7:  # exhaustive check of the overlap bound on small sets
        members = range(n)
        smallest = min(
            len(set(x) & set(y))
            for x in itertools.combinations(members, q)
            for y in itertools.combinations(members, q)
        )
        assert smallest >= cfg.f + 1


def test_primary_rotates_through_the_validators_in_order() -> None:
    assert [CFG.primary(v) for v in range(9)] == [*KEYS, *KEYS, KEYS[0]]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"validators": ()}, "at least one validator"),
        ({"validators": (KEYS[0], KEYS[1], KEYS[0])}, "distinct"),
        ({"validators": (KEYS[0], b"short key")}, "32-byte"),
        ({"log_window_blocks": 15, "checkpoint_interval_blocks": 8}, "log_window_blocks"),
        ({"in_flight_blocks_max": 0}, "in_flight_blocks_max"),
        ({"in_flight_blocks_max": 17, "log_window_blocks": 16}, "in_flight_blocks_max"),
        ({"block_txs_max": 0}, "block_txs_max must be positive"),
        ({"block_bytes_max": 0}, "block_bytes_max must be positive"),
        ({"block_interval_ticks": 0}, "block_interval_ticks must be positive"),
        ({"checkpoint_interval_blocks": 0}, "checkpoint_interval_blocks must be positive"),
        ({"view_change_timeout_ticks": 0}, "view_change_timeout_ticks must be positive"),
        ({"primary_suspect_ticks": 0}, "primary_suspect_ticks must be positive"),
        ({"status_interval_ticks": -1}, "status_interval_ticks must be positive"),
        ({"fetch_blocks_max": 0}, "fetch_blocks_max must be positive"),
        ({"future_messages_per_peer_max": 0}, "future_messages_per_peer_max must be positive"),
        ({"pending_txs_max": 0}, "pending_txs_max must be positive"),
        ({"pending_bytes_max": 0}, "pending_bytes_max must be positive"),
        ({"tx_bytes_max": 0}, "tx_bytes_max must be positive"),
        (
            {"view_change_timeout_ticks": 40, "view_change_timeout_max_ticks": 39},
            "view_change_timeout_max_ticks",
        ),
    ],
)
def test_invalid_config_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(CFG, **changes)


def test_config_limits_at_their_bounds_are_accepted() -> None:
    cfg = dataclasses.replace(
        CFG,
        log_window_blocks=16,
        checkpoint_interval_blocks=8,
        in_flight_blocks_max=16,
        view_change_timeout_ticks=40,
        view_change_timeout_max_ticks=40,
        block_txs_max=1,
    )
    assert (cfg.log_window_blocks, cfg.in_flight_blocks_max) == (16, 16)


def test_only_the_blocks_the_core_reads_are_kept_from_an_envelope() -> None:
    """A peer may attach any blocks to any message: a pre-prepare keeps only the block it
    names (checked, and detached from the envelope), votes keep none, and VIEW-CHANGE and
    NEW-VIEW keep theirs for the core to pick from. So the node queues, and pre-verifies
    the txs of, at most one checked block per pre-prepare."""
    named, chaff = block(), block((make_tx(0, 7),))
    pre = sign(SIGNERS[0], CHANNEL, "pre_prepare", vote(0, 1, named.digest))
    got = decode_envelope(encode_envelope(pre, [chaff.block, named.block]), CFG, BYTES_MAX)
    assert not isinstance(got, Reason)
    kept = useful_blocks(got[0], got[1], CFG)
    assert kept == (named.block,)
    got[1][1].txs.append(b"changed later")
    assert list(kept[0].txs) == list(named.txs)
    oversize = dataclasses.replace(CFG, block_txs_max=1)
    assert useful_blocks(got[0], (named.block,), oversize) == ()
    assert useful_blocks(prepare(), (named.block,), CFG) == ()
    change = sign(SIGNERS[1], CHANNEL, "view_change", pb.ViewChange(new_view=1))
    assert useful_blocks(change, (chaff.block, named.block), CFG) == (chaff.block, named.block)
