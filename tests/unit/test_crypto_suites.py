"""The suite interface: `ed25519-sha256` computes today's bytes exactly, and both suites
sign, verify, seal and refuse bad input the same way (False or None, never a raise)."""

from __future__ import annotations

import ctypes
import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor

import nacl.signing
import pytest

from chains import privacy
from chains.tx import tx_id
from consensus import hashing
from consensus.crypto import Ed25519Signer, Ed25519Verifier
from crypto import SUITE_NAMES, Suite, openssl_sm2, suite_by_name

ED = suite_by_name("ed25519-sha256")
SEED = bytes(range(32))


@pytest.fixture(params=SUITE_NAMES)
def suite(request: pytest.FixtureRequest) -> Suite:
    return suite_by_name(request.param)


def test_suites_are_chosen_by_name_and_an_unknown_name_is_refused() -> None:
    assert [suite_by_name(name).name for name in SUITE_NAMES] == list(SUITE_NAMES)
    with pytest.raises(ValueError, match="unknown crypto suite"):
        suite_by_name("rsa-md5")


# ed25519-sha256 is today's behaviour, byte for byte


def test_ed25519_sha256_hashes_as_the_core_and_the_tx_id_do() -> None:
    for data in (b"", b"abc", bytes(1000)):
        assert ED.hash(data) == hashing.sha256(data) == tx_id(data)


def test_ed25519_sha256_merkle_tree_is_the_cores() -> None:
    for count in range(0, 34):
        leaves = [bytes([i]) * (i % 5) for i in range(count)]
        root = ED.merkle_root(leaves)
        assert root == hashing.merkle_root(leaves) == privacy.items_root(leaves)
        for index in range(count):
            proof = ED.merkle_proof(leaves, index)
            assert proof == hashing.merkle_proof(leaves, index)
            assert ED.verify_merkle_proof(leaves[index], index, count, proof, root)
            assert not ED.verify_merkle_proof(leaves[index] + b"x", index, count, proof, root)
            assert not ED.verify_merkle_proof(leaves[index], index, count + 1, proof, root)


def test_ed25519_sha256_keyed_hash_is_the_subject_reference() -> None:
    key = b"consortium subject key"
    expected = privacy.subject_ref(key, " 11010519491231002x ")
    assert ED.keyed_hash(key, b"govchain-subject|11010519491231002X") == expected


def test_ed25519_sha256_signs_as_the_validator_signer_does() -> None:
    signer = Ed25519Signer(SEED)
    assert ED.public_key(ED.private_key_from_seed(SEED)) == signer.public_key
    assert ED.sign(SEED, b"vote") == signer.sign(b"vote")  # Ed25519 is deterministic
    assert Ed25519Verifier().verify(signer.public_key, b"vote", ED.sign(SEED, b"vote"))


def test_ed25519_sha256_seals_as_the_privacy_module_does() -> None:
    public = ED.public_key(SEED)
    assert privacy.open_sealed(nacl.signing.SigningKey(SEED), ED.seal(public, b"v")) == b"v"
    assert ED.open_sealed(SEED, privacy.seal_to(public, b"w")) == b"w"


# both suites


def test_sign_verify_round_trip_and_keys_from_seeds(suite: Suite) -> None:
    private = suite.private_key_from_seed(SEED)
    assert private == suite.private_key_from_seed(SEED)
    assert private != suite.private_key_from_seed(bytes(32))
    assert len(private) == suite.private_key_bytes
    public = suite.public_key(private)
    assert len(public) == suite.public_key_bytes
    for message in (b"", b"m", bytes(10_000)):
        signature = suite.sign(private, message)
        assert len(signature) == suite.signature_bytes
        assert suite.verify(public, message, signature)


def test_a_seed_of_the_wrong_length_is_refused(suite: Suite) -> None:
    for seed in (b"", bytes(31), bytes(33)):
        with pytest.raises(ValueError):
            suite.private_key_from_seed(seed)


def test_tampered_message_signature_or_key_is_refused(suite: Suite) -> None:
    private = suite.generate_private_key()
    public, other = suite.public_key(private), suite.public_key(suite.generate_private_key())
    signature = suite.sign(private, b"transfer 10")
    assert not suite.verify(public, b"transfer 11", signature)
    assert not suite.verify(other, b"transfer 10", signature)
    for i in (0, len(signature) // 2, len(signature) - 1):
        bad = bytearray(signature)
        bad[i] ^= 0x01
        assert not suite.verify(public, b"transfer 10", bytes(bad))


def test_malformed_keys_and_signatures_give_false_not_an_exception(suite: Suite) -> None:
    private = suite.generate_private_key()
    public = suite.public_key(private)
    signature = suite.sign(private, b"m")
    for bad_key in (b"", public[:-1], public + b"\x00", bytes(len(public)), b"\xff" * len(public)):
        assert not suite.verify(bad_key, b"m", signature)
    for bad_sig in (b"", signature[:-1], signature + b"\x00", bytes(len(signature))):
        assert not suite.verify(public, b"m", bad_sig)
    assert not suite.verify("text", b"m", signature)  # type: ignore[arg-type]


def test_sm2_point_off_the_curve_and_scalars_out_of_range_are_refused() -> None:
    sm2 = suite_by_name("sm2-sm3")
    private = sm2.generate_private_key()
    public, signature = sm2.public_key(private), sm2.sign(private, b"m")
    off_curve = public[:-1] + bytes([public[-1] ^ 1])
    compressed = b"\x02" + public[1:]
    for key in (off_curve, compressed):
        assert not sm2.verify(key, b"m", signature)
    n = openssl_sm2.N.to_bytes(32, "big")
    r, s = signature[:32], signature[32:]
    for forged in (bytes(32) + s, r + bytes(32), n + s, r + n):
        assert not sm2.verify(public, b"m", forged)
    for d in (bytes(32), (openssl_sm2.N - 1).to_bytes(32, "big"), b"\xff" * 32, bytes(31)):
        with pytest.raises(ValueError):
            sm2.sign(d, b"m")


def test_verify_batch_answers_each_item_on_its_own(suite: Suite) -> None:
    private = suite.generate_private_key()
    public = suite.public_key(private)
    items = [(public, bytes([i]), suite.sign(private, bytes([i]))) for i in range(8)]
    items[3] = (public, b"other", items[3][2])
    items[5] = (public[:-1], items[5][1], items[5][2])
    assert suite.verify_batch(items) == [i not in (3, 5) for i in range(8)]
    assert suite.verify_batch([]) == []


def test_verify_batch_from_many_threads_at_once(suite: Suite) -> None:
    """Per-thread OpenSSL contexts: concurrent batches share keys but no context."""
    keys = [suite.generate_private_key() for _ in range(3)]
    items = [
        (suite.public_key(k), b"x%d" % i, suite.sign(k, b"x%d" % i)) for i, k in enumerate(keys)
    ]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(suite.verify_batch, [items * 20] * 8))
    assert all(all(result) and len(result) == 60 for result in results)


def test_sm2_goes_through_a_library_loaded_without_the_gil() -> None:
    """ctypes.CDLL (unlike PyDLL) releases the GIL around each call: the verifier pool's
    threads verify in parallel (docs/compliance.md has the measured rates)."""
    assert type(openssl_sm2._LIB) is ctypes.CDLL


def test_seal_and_open(suite: Suite) -> None:
    private = suite.generate_private_key()
    public = suite.public_key(private)
    for data in (b"", b"x", "身份证 11010519491231002X".encode(), bytes(100_000)):
        sealed = suite.seal(public, data)
        assert sealed != suite.seal(public, data)  # a fresh ephemeral key each time
        assert suite.open_sealed(private, sealed) == data


def test_sealed_values_tampered_or_for_another_key_do_not_open(suite: Suite) -> None:
    private, other = suite.generate_private_key(), suite.generate_private_key()
    sealed = suite.seal(suite.public_key(private), b"secret value")
    assert suite.open_sealed(other, sealed) is None
    for i in (0, len(sealed) // 2, len(sealed) - 1):
        bad = bytearray(sealed)
        bad[i] ^= 0x01
        assert suite.open_sealed(private, bytes(bad)) is None
    for broken in (b"", sealed[:10], sealed[:-1], sealed + b"\x00"):
        assert suite.open_sealed(private, broken) is None
    with pytest.raises(ValueError):
        suite.seal(b"\x04" + bytes(64), b"v")


def test_sm2_sm3_hashes_and_keys_with_sm3() -> None:
    sm2 = suite_by_name("sm2-sm3")
    assert sm2.hash(b"abc") == hashlib.new("sm3", b"abc").digest() != ED.hash(b"abc")
    key, data = b"k" * 20, b"data"
    inner = hashlib.new("sm3", bytes(b ^ 0x36 for b in key.ljust(64, b"\0")) + data).digest()
    outer = hashlib.new("sm3", bytes(b ^ 0x5C for b in key.ljust(64, b"\0")) + inner).digest()
    assert sm2.keyed_hash(key, data) == outer == hmac.new(key, data, "sm3").digest()
    leaves = [b"a", b"b", b"c"]
    assert sm2.merkle_root(leaves) != ED.merkle_root(leaves)
    for index in range(3):
        proof = sm2.merkle_proof(leaves, index)
        assert sm2.verify_merkle_proof(leaves[index], index, 3, proof, sm2.merkle_root(leaves))
