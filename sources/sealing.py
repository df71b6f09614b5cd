"""Encryption at rest of govchain's data beside a department's records.

The sidecar holds the salt behind every anchored item. With a salt, an item's commitment
on chain can be checked against guesses, and many items (a name, an 18-digit ID number
with its known structure) are guessable: a stolen salt file un-hides them. So each salt is
sealed (XChaCha20-Poly1305, the row's license id and item code bound as associated data,
so a sealed salt cannot be moved to another row), and the department's own key of each
row (which may be a person's ID number) is kept only as a keyed hash, plus sealed where
the pull path needs it back.

The key that wraps the sidecar's own data key is held exactly like the department's key,
with no new secret to keep: it is SHA-256 over the department key's signature of a fixed
statement. Ed25519 signatures
are deterministic, so an encrypted key file and a PKCS#11 token (which never lets the
private key out) give the same sealing key every time. SM2 signatures are randomised, so
on an `sm2-sm3` chain the key is the suite's keyed hash (HMAC-SM3) under the department's
private key instead (`crypto.SuiteSigner.derive_key`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Protocol

import nacl.bindings
import nacl.exceptions

STATEMENT = b"govchain-sidecar-key-v1: seal the salts of this department's anchored items"
NONCE_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES


class SigningKey(Protocol):
    def sign(self, message: bytes) -> object: ...  # nacl-style: `.signature`


class SealingError(ValueError):
    """A sealed value that does not open under this key (another key, or tampered)."""


def sealing_key(department_key: SigningKey) -> bytes:
    """The 32-byte sealing key derived from the department key (see the module docstring)."""
    derive = getattr(department_key, "derive_key", None)
    if derive is not None:  # a suite's signer (SM2: randomised signatures)
        return derive(b"govchain-sidecar|" + STATEMENT)
    signature = department_key.sign(STATEMENT).signature  # type: ignore[attr-defined]
    return hashlib.sha256(b"govchain-sidecar|" + signature).digest()


class Sealer:
    """Seals and opens sidecar values under one key; `ref` is the keyed hash of a row key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a sealing key is 32 bytes")
        self._key = key

    def key_bytes(self) -> bytes:
        """The key itself, only to wrap it under another key (Sidecar.rewrap)."""
        return self._key

    def seal(self, value: bytes, bound_to: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            value, bound_to, nonce, self._key
        )

    def open(self, sealed: bytes, bound_to: bytes) -> bytes:
        nonce, box = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                box, bound_to, nonce, self._key
            )
        except nacl.exceptions.CryptoError:
            raise SealingError("a sealed sidecar value does not open under this key") from None

    def ref(self, type_code: str, key: str) -> str:
        mac = hmac.new(self._key, f"{type_code}\x00{key}".encode(), hashlib.sha256)
        return mac.hexdigest()


class PlainSealer:
    """No sealing (tests, and a node with no department key): values as they are."""

    def seal(self, value: bytes, bound_to: bytes) -> bytes:
        return value

    def open(self, sealed: bytes, bound_to: bytes) -> bytes:
        return sealed

    def ref(self, type_code: str, key: str) -> str:
        return key
