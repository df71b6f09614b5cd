"""Client tx decoding (chains.tx), the batched Ed25519 verifier and its cache
(node.verifier), and the channel's tx checker that the consensus core calls (node.tx_signatures).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator, Sequence

import nacl.signing
import pytest

from chains.tx import DecodedTx, TxError, decode_tx, encode_tx, tx_id
from client.txs import kv_put_tx
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier, Item, LruSet
from protos import api_pb2 as api

CHAIN = "govchain-test"
CHANNEL = "license"
TX_BYTES_MAX = 4096
CLIENT = nacl.signing.SigningKey(bytes(range(32)))
OTHER_CLIENT = nacl.signing.SigningKey(bytes(range(1, 33)))


def put(nonce: int, channel: str = CHANNEL, chain: str = CHAIN) -> bytes:
    return kv_put_tx(CLIENT, chain, channel, b"key-%d" % nonce, b"value", nonce=nonce)


def envelope(body: bytes, signature: bytes = bytes(64), signer: bytes = bytes(32)) -> bytes:
    env = api.TxEnvelope(body=body, signature=signature, signer=signer)
    return env.SerializeToString(deterministic=True)


def body_bytes(**fields: object) -> bytes:
    return api.TxBody(**fields).SerializeToString(deterministic=True)  # type: ignore[arg-type]


def with_flipped_signature(raw: bytes) -> bytes:
    env = api.TxEnvelope.FromString(raw)
    sig = bytearray(env.signature)
    sig[0] ^= 0x01
    env.signature = bytes(sig)
    return env.SerializeToString(deterministic=True)


def status_of(raw: bytes, tx_bytes_max: int = TX_BYTES_MAX) -> int:
    with pytest.raises(TxError) as err:
        decode_tx(raw, CHAIN, tx_bytes_max)
    return err.value.status


def signed_item(message: bytes, key: nacl.signing.SigningKey = CLIENT) -> Item:
    return bytes(key.verify_key), message, key.sign(message).signature


def bad_item(message: bytes) -> Item:
    public, data, sig = signed_item(message)
    return public, data, bytes([sig[0] ^ 0x80]) + sig[1:]


@pytest.fixture
def verifier() -> Iterator[BatchVerifier]:
    v = BatchVerifier(threads=2, chunk_items=2)
    yield v
    v.close()


def checker_for(verifier: BatchVerifier, channel: str = CHANNEL) -> NodeTxChecker:
    return NodeTxChecker(verifier, CHAIN, channel, TX_BYTES_MAX)


def verify_batch(verifier: BatchVerifier, items: Sequence[Item]) -> list[bool]:
    return asyncio.run(verifier.verify_batch(items))


# ------------------------------------------------------------------ decode_tx


def test_decode_tx_returns_the_signed_parts_and_the_parsed_body() -> None:
    raw = put(7)
    tx = decode_tx(raw, CHAIN, TX_BYTES_MAX)
    assert tx.raw == raw
    assert tx.signer == bytes(CLIENT.verify_key)
    assert tx.body.channel == CHANNEL and tx.body.type == "kv.put" and tx.body.nonce == 7
    CLIENT.verify_key.verify(tx.body_bytes, tx.signature)  # the signature covers body_bytes


def test_tx_id_is_sha256_of_the_whole_envelope() -> None:
    raw = put(1)
    expected = hashlib.sha256(raw).digest()
    assert tx_id(raw) == expected
    assert decode_tx(raw, CHAIN, TX_BYTES_MAX).tx_id == expected


def test_same_body_signed_by_another_key_has_another_tx_id() -> None:
    body = api.TxBody(chain_id=CHAIN, channel=CHANNEL, type="kv.put", nonce=1)
    a, b = encode_tx(body, CLIENT), encode_tx(body, OTHER_CLIENT)
    assert decode_tx(a, CHAIN, TX_BYTES_MAX).body_bytes == decode_tx(b, CHAIN, 4096).body_bytes
    assert tx_id(a) != tx_id(b)


def test_envelope_above_tx_bytes_max_is_too_large_and_at_the_limit_is_not() -> None:
    raw = put(1)
    assert status_of(raw, tx_bytes_max=len(raw) - 1) == api.TOO_LARGE
    assert decode_tx(raw, CHAIN, len(raw)).raw == raw


GOOD_BODY = body_bytes(chain_id=CHAIN, channel=CHANNEL, type="kv.put")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xff\xff\xff garbage", id="garbage"),
        pytest.param(envelope(b"\xff\xff\xff"), id="body-not-a-TxBody"),
        pytest.param(envelope(GOOD_BODY, signer=bytes(31)), id="short-signer"),
        pytest.param(envelope(GOOD_BODY, signer=bytes(33)), id="long-signer"),
        pytest.param(envelope(GOOD_BODY, signature=bytes(63)), id="short-signature"),
        pytest.param(envelope(GOOD_BODY, signature=b""), id="no-signature"),
        pytest.param(envelope(b""), id="empty-body"),
        pytest.param(envelope(body_bytes(chain_id=CHAIN, channel=CHANNEL)), id="missing-type"),
    ],
)
def test_malformed_envelopes_are_refused_as_malformed(raw: bytes) -> None:
    assert status_of(raw) == api.MALFORMED


def test_tx_for_another_chain_is_wrong_chain() -> None:
    assert status_of(put(1, chain="other-chain")) == api.WRONG_CHAIN
    assert status_of(envelope(body_bytes(channel=CHANNEL, type="kv.put"))) == api.WRONG_CHAIN


# ------------------------------------------------------------------ BatchVerifier


def test_batch_with_one_bad_signature_fails_only_that_item(verifier: BatchVerifier) -> None:
    items = [signed_item(b"m%d" % i) for i in range(5)]
    items[2] = bad_item(b"m2")
    assert verify_batch(verifier, items) == [True, True, False, True, True]
    assert verifier.verified_count == 5


def test_items_that_are_not_keys_or_signatures_fail_without_raising(
    verifier: BatchVerifier,
) -> None:
    good = signed_item(b"ok")
    items: list[Item] = [good, (bytes(31), b"m", good[2]), (good[0], b"m", bytes(10))]
    items.append((good[0], b"another message", good[2]))
    assert verify_batch(verifier, items) == [True, False, False, False]


def test_second_verification_of_an_item_is_a_cache_hit(verifier: BatchVerifier) -> None:
    items = [signed_item(b"a"), signed_item(b"b")]
    assert verify_batch(verifier, items) == [True, True]
    assert (verifier.verified_count, verifier.cache_hits) == (2, 0)
    assert verify_batch(verifier, items) == [True, True]
    assert (verifier.verified_count, verifier.cache_hits) == (2, 2)


def test_bad_signatures_are_not_cached(verifier: BatchVerifier) -> None:
    bad = bad_item(b"x")
    assert verify_batch(verifier, [bad]) == [False]
    assert verify_batch(verifier, [bad]) == [False]
    assert (verifier.verified_count, verifier.cache_hits) == (2, 0)
    assert not verifier.verify(*bad)
    assert verifier.cache_hits == 0


def test_batch_mixing_cached_and_new_items_checks_only_the_new(verifier: BatchVerifier) -> None:
    old = signed_item(b"old")
    verify_batch(verifier, [old])
    new = [signed_item(b"new-%d" % i) for i in range(3)]
    assert verify_batch(verifier, [new[0], old, new[1], bad_item(b"z"), new[2]]) == [
        True,
        True,
        True,
        False,
        True,
    ]
    assert (verifier.verified_count, verifier.cache_hits) == (1 + 4, 1)


def test_synchronous_verify_agrees_with_batched_verification() -> None:
    good = signed_item(b"good")
    items: list[Item] = [
        good,
        bad_item(b"bad"),
        signed_item(b"other", OTHER_CLIENT),
        (bytes(31), b"m", good[2]),
        (good[0], b"m", bytes(63)),
        (good[0], b"tampered", good[2]),
    ]
    batched, single = BatchVerifier(), BatchVerifier()
    try:
        assert [single.verify(*item) for item in items] == verify_batch(batched, items)
        assert single.verified_count == batched.verified_count - 2  # wrong sizes not checked
    finally:
        batched.close()
        single.close()


def test_synchronous_verify_hits_the_cache_filled_by_a_batch(verifier: BatchVerifier) -> None:
    item = signed_item(b"vote")
    verify_batch(verifier, [item])
    assert verifier.verify(*item)
    assert (verifier.verified_count, verifier.cache_hits) == (1, 1)


def test_lru_set_forgets_the_least_recently_added_beyond_its_bound() -> None:
    lru = LruSet(3)
    for key in (b"a", b"b", b"c"):
        lru.add(key)
    lru.add(b"a")  # re-adding refreshes a
    lru.add(b"d")
    assert len(lru) == 3
    assert b"b" not in lru
    assert all(key in lru for key in (b"a", b"c", b"d"))


def test_verifier_cache_is_bounded() -> None:
    v = BatchVerifier(cache_entries_max=2)
    try:
        items = [signed_item(b"m%d" % i) for i in range(3)]
        verify_batch(v, items)
        assert v.verified_count == 3
        assert verify_batch(v, items[1:]) == [True, True]
        assert v.verified_count == 3
        assert verify_batch(v, items[:1]) == [True]
        assert v.verified_count == 4  # the oldest entry was evicted
    finally:
        v.close()


# ------------------------------------------------------------------ NodeTxChecker


def decoded(checker: NodeTxChecker, raws: Sequence[bytes]) -> list[DecodedTx]:
    return [checker.decode(raw) for raw in raws]


def test_verify_txs_after_verify_decoded_needs_no_new_check(verifier: BatchVerifier) -> None:
    checker = checker_for(verifier)
    raws = [put(i) for i in range(3)]
    assert asyncio.run(checker.verify_decoded(decoded(checker, raws))) == [True, True, True]
    count = verifier.verified_count
    assert checker.verify_txs(raws) == [True, True, True]
    assert verifier.verified_count == count == 3


def test_verify_decoded_reports_a_bad_signature_per_tx(verifier: BatchVerifier) -> None:
    checker = checker_for(verifier)
    raws = [put(1), with_flipped_signature(put(2)), put(3)]
    assert asyncio.run(checker.verify_decoded(decoded(checker, raws))) == [True, False, True]
    assert checker.verify_txs(raws) == [True, False, True]


def test_verify_txs_after_preverify_needs_no_new_check(verifier: BatchVerifier) -> None:
    checker = checker_for(verifier)
    raws = [put(i) for i in range(4)]
    asyncio.run(checker.preverify(raws))
    assert verifier.verified_count == 4
    assert checker.verify_txs(raws) == [True] * 4
    assert verifier.verified_count == 4


def test_preverify_skips_txs_already_known(verifier: BatchVerifier) -> None:
    checker = checker_for(verifier)
    known, new = put(1), put(2)
    assert checker.verify_txs([known]) == [True]
    asyncio.run(checker.preverify([known, new]))
    assert verifier.verified_count == 2
    assert verifier.cache_hits == 0


def test_verify_txs_without_prior_check_verifies_and_then_remembers(
    verifier: BatchVerifier,
) -> None:
    checker = checker_for(verifier)
    raw = put(5)
    assert checker.verify_txs([raw]) == [True]
    assert checker.verify_txs([raw]) == [True]
    assert verifier.verified_count == 1


def test_txs_of_another_channel_are_invalid(verifier: BatchVerifier) -> None:
    checker = checker_for(verifier)
    other = put(1, channel="catalog")
    assert checker.verify_txs([other, put(2)]) == [False, True]
    with pytest.raises(TxError) as err:
        checker.decode(other)
    assert err.value.status == api.UNKNOWN_CHANNEL


def test_tx_valid_on_one_channel_is_invalid_on_another_sharing_the_verifier(
    verifier: BatchVerifier,
) -> None:
    catalog = checker_for(verifier, "catalog")
    raw = put(1, channel="catalog")
    assert catalog.verify_txs([raw]) == [True]
    assert checker_for(verifier).verify_txs([raw]) == [False]


def test_preverify_ignores_txs_of_another_channel(verifier: BatchVerifier) -> None:
    checker = checker_for(verifier)
    other = put(1, channel="catalog")
    asyncio.run(checker.preverify([other, b"garbage"]))
    assert verifier.verified_count == 0
    assert checker.verify_txs([other, b"garbage"]) == [False, False]


def test_verify_txs_refuses_bad_signature_wrong_chain_and_garbage(
    verifier: BatchVerifier,
) -> None:
    checker = checker_for(verifier)
    txs = [with_flipped_signature(put(1)), put(2, chain="other"), b"\x00garbage", put(3)]
    assert checker.verify_txs(txs) == [False, False, False, True]
