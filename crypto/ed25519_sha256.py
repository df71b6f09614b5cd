"""`ed25519-sha256`: the suite govchain has always used, now behind the suite interface.

Byte for byte what the code computes today (a test holds it): SHA-256 digests, the
Merkle tree of consensus/hashing.py, HMAC-SHA256 subject references, Ed25519 (PyNaCl,
libsodium) signatures over the exact bytes with the key file's 32-byte seed as private
key, and NaCl sealed boxes to the Ed25519 key converted to X25519 (chains/privacy.py).
"""

from __future__ import annotations

import hashlib
import hmac

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing

from crypto.suite import SEED_BYTES, Suite

_FAILED = (nacl.exceptions.CryptoError, ValueError, TypeError)


class Ed25519Sha256(Suite):
    name = "ed25519-sha256"
    public_key_bytes = 32
    signature_bytes = 64

    def __init__(self) -> None:
        self._signing_keys: dict[bytes, nacl.signing.SigningKey] = {}

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def keyed_hash(self, key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, hashlib.sha256).digest()

    def expand(self, data: bytes, size: int) -> bytes:
        return hashlib.shake_256(data).digest(size)  # as consensus.hashing.SHA256 does

    def private_key_from_seed(self, seed: bytes) -> bytes:
        if len(seed) != SEED_BYTES:
            raise ValueError("an Ed25519 seed has 32 bytes")
        return bytes(seed)

    def _signing_key(self, private_key: bytes) -> nacl.signing.SigningKey:
        key = self._signing_keys.get(private_key)
        if key is None:
            key = nacl.signing.SigningKey(self.private_key_from_seed(private_key))
            if len(self._signing_keys) >= 16:  # a node holds a key or two
                self._signing_keys.clear()
            self._signing_keys[private_key] = key
        return key

    def public_key(self, private_key: bytes) -> bytes:
        return bytes(self._signing_key(private_key).verify_key)

    def sign(self, private_key: bytes, message: bytes) -> bytes:
        return self._signing_key(private_key).sign(message).signature

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """Straight through libsodium (as node/verifier.py does: about 19% faster than
        through a VerifyKey object); cffi releases the GIL inside."""
        if len(public_key) != 32 or len(signature) != 64:
            return False
        try:
            nacl.bindings.crypto_sign_open(signature + message, public_key)
        except _FAILED:
            return False
        return True

    def seal(self, public_key: bytes, data: bytes) -> bytes:
        try:
            curve = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(public_key)
        except _FAILED as error:
            raise ValueError("not an Ed25519 public key") from error
        return nacl.public.SealedBox(nacl.public.PublicKey(curve)).encrypt(data)

    def open_sealed(self, private_key: bytes, sealed: bytes) -> bytes | None:
        private = self._signing_key(private_key).to_curve25519_private_key()
        try:
            return nacl.public.SealedBox(private).decrypt(sealed)
        except _FAILED:
            return None


ED25519_SHA256 = Ed25519Sha256()
