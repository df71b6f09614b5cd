"""`sm2-sm3`: the national (国密) suite, SM2 signatures and encryption with SM3 hashing.

- Digests and the Merkle tree: SM3 (GB/T 32905), the tree built as in `ed25519-sha256`.
- Keyed hashes: HMAC-SM3 (the HMAC construction of GB/T 15852.2 over SM3).
- Signatures: SM2 (GB/T 32918.2) with the standard's default user ID
  "1234567812345678" in Z_A, over the exact bytes; r | s, 64 bytes. SM2 signatures are
  randomised (a fresh k each time): signing one message twice gives two signatures,
  both valid.
- Public keys: the uncompressed point 04 | X | Y on sm2p256v1 (65 bytes); private keys
  the scalar d (32 bytes), derived from a key file's 32-byte seed.
- Sealing: SM2 public-key encryption (GB/T 32918.4), C1 | C3 | C2 in GM/T 0009's DER
  form. Chosen over SM4 with an SM2 key exchange because it is one standard primitive
  with the sealed box's properties (an ephemeral key per message, the sender anonymous,
  an SM3 check value C3 over the plaintext), with no protocol of ours to get wrong; its
  cost (two scalar multiplications and an SM3 stream) is nothing beside a pull's RPCs.
  The encrypted plaintext is 0x01 | data: a version byte for a later format, and it
  makes an empty value sealable (SM2 encryption is undefined for an empty message).

SM3 comes from the system OpenSSL through hashlib; SM2 from the same OpenSSL through
crypto/openssl_sm2.py (why: docs/compliance.md).
"""

from __future__ import annotations

import hashlib
import hmac

from crypto import openssl_sm2
from crypto.suite import SEED_BYTES, Suite

SEAL_VERSION = b"\x01"

if "sm3" not in hashlib.algorithms_available:
    raise ImportError("the sm2-sm3 suite needs SM3 from OpenSSL 3, through Python's hashlib")


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


class Sm2Sm3(Suite):
    name = "sm2-sm3"
    public_key_bytes = openssl_sm2.PUBLIC_KEY_BYTES
    signature_bytes = openssl_sm2.SIGNATURE_BYTES

    def hash(self, data: bytes) -> bytes:
        return sm3(data)

    def keyed_hash(self, key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, "sm3").digest()

    def private_key_from_seed(self, seed: bytes) -> bytes:
        if len(seed) != SEED_BYTES:
            raise ValueError("an SM2 key seed has 32 bytes")
        return openssl_sm2.private_key_from_seed(seed)

    def public_key(self, private_key: bytes) -> bytes:
        return openssl_sm2.public_key_of(private_key)

    def sign(self, private_key: bytes, message: bytes) -> bytes:
        return openssl_sm2.sign(private_key, message)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return openssl_sm2.verify(public_key, message, signature)

    def seal(self, public_key: bytes, data: bytes) -> bytes:
        return openssl_sm2.encrypt(public_key, SEAL_VERSION + data)

    def open_sealed(self, private_key: bytes, sealed: bytes) -> bytes | None:
        plaintext = openssl_sm2.decrypt(private_key, sealed)
        if plaintext is None or plaintext[:1] != SEAL_VERSION:
            return None
        return plaintext[1:]


SM2_SM3 = Sm2Sm3()
