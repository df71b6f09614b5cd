"""The national algorithms against the standards' own published examples.

- SM3: GB/T 32905-2016 appendix A, examples 1 ("abc") and 2 ("abcd" x 16).
- SM4: GB/T 32907-2016 appendix A, example 1 (one block) and example 2 (the same block
  encrypted 1,000,000 times under the same key; about 0.4 s here, so it runs every time).
- SM2: the GM/T 0003.5-2012 (GB/T 32918.5) signature example over the recommended curve
  sm2p256v1 with the standard's default user ID "1234567812345678": the key pair, the
  digest e = SM3(Z_A | M) and the signature (r, s) the standard prints for "message
  digest". GB/T 32918.2's appendix examples use a test curve of their own, which OpenSSL
  (named curves only) cannot load; the recommended-curve example is the one that binds us.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from crypto import openssl_sm2
from crypto.sm2_sm3 import sm3

SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")

SM2_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
SM2_PUBLIC = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
SM2_MESSAGE = b"message digest"
SM2_E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
SM2_SIGNATURE = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)


def test_sm3_example_1_abc() -> None:
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_sm3_example_2_sixty_four_bytes() -> None:
    digest = sm3(b"abcd" * 16).hex()
    assert digest == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm3_from_cryptography_agrees_with_hashlib() -> None:
    """The two OpenSSLs on the machine (the system's, cryptography's own) give one SM3."""
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SM3())
    h.update(b"abc")
    assert h.finalize() == sm3(b"abc")


def sm4_block(key: bytes, block: bytes) -> bytes:
    return Cipher(algorithms.SM4(key), modes.ECB()).encryptor().update(block)


def test_sm4_example_1_one_block() -> None:
    assert sm4_block(SM4_KEY, SM4_KEY).hex() == "681edf34d206965e86b3e94f536e4246"
    decryptor = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).decryptor()
    assert decryptor.update(bytes.fromhex("681edf34d206965e86b3e94f536e4246")) == SM4_KEY


def test_sm4_example_2_a_million_encryptions() -> None:
    encryptor = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    block = SM4_KEY
    for _ in range(1_000_000):
        block = encryptor.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


def test_sm2_example_public_key_is_d_times_g() -> None:
    assert openssl_sm2.public_key_of(SM2_D) == SM2_PUBLIC


def test_sm2_example_digest_binds_the_default_user_id() -> None:
    """e = SM3(Z_A | M), Z_A over ENTL | "1234567812345678" | a | b | G | P_A."""
    assert openssl_sm2.DEFAULT_USER_ID == b"1234567812345678"
    z = openssl_sm2.z_value(SM2_PUBLIC)
    assert hashlib.new("sm3", z + SM2_MESSAGE).digest() == SM2_E


def test_sm2_example_signature_verifies() -> None:
    assert openssl_sm2.verify(SM2_PUBLIC, SM2_MESSAGE, SM2_SIGNATURE)


def test_sm2_example_signature_is_refused_for_another_user_id() -> None:
    """The user ID is part of what is signed: the same (r, s) under "ALICE123@YAHOO.COM"
    (the ID of the standard's test-curve examples) does not verify."""
    alice = b"ALICE123@YAHOO.COM"
    assert not openssl_sm2.verify(SM2_PUBLIC, SM2_MESSAGE, SM2_SIGNATURE, user_id=alice)


def test_sm2_our_signature_of_the_example_verifies_and_differs() -> None:
    """OpenSSL picks its own k, so our signature is not the printed one, but it verifies
    under the standard's key, and two of ours differ (SM2 signatures are randomised)."""
    ours = openssl_sm2.sign(SM2_D, SM2_MESSAGE)
    again = openssl_sm2.sign(SM2_D, SM2_MESSAGE)
    assert ours != SM2_SIGNATURE and ours != again
    assert openssl_sm2.verify(SM2_PUBLIC, SM2_MESSAGE, ours)
    assert openssl_sm2.verify(SM2_PUBLIC, SM2_MESSAGE, again)
