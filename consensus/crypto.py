"""Signing and verification interfaces the core is given, and their Ed25519 implementation.

The core signs its own votes (they become parts of certificates other replicas verify)
and checks the signatures nested inside certificates. Both are injected rather than
imported: the node passes a signer of its channels' crypto suite (Ed25519 here, or
crypto.SuiteSigner for any suite) and its batched, caching verifier over that suite; the
simulator may pass a cheaper scheme with the same unforgeability property, or a real suite.
A suite's signatures may be randomised (SM2 draws a fresh nonce per signature), so the
core never compares signature bytes: one vote signed twice gives two valid signatures,
and equivocation is two votes with different digests, not different signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import nacl.exceptions
import nacl.signing

if TYPE_CHECKING:
    from consensus.membership import GovernanceTx


class Signer(Protocol):
    """Signs bytes as one validator. A Byzantine replica holds only its own Signer."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


class Verifier(Protocol):
    """Checks a signature by a given public key over the exact bytes."""

    def verify(self, public_key: bytes, data: bytes, signature: bytes) -> bool: ...


class TxChecker(Protocol):
    """What consensus needs to know about opaque client transactions."""

    def tx_id(self, tx: bytes) -> bytes: ...

    def verify_txs(self, txs: Sequence[bytes]) -> list[bool]:
        """True per tx whose client signature is valid (batched; may use a verified cache)."""
        ...

    def governance(self, tx: bytes) -> GovernanceTx | None:
        """The governance proposal a committed tx carries, or None for any other tx.
        Asked for every committed tx, so it must be cheap for ordinary ones."""
        ...


class Ed25519Signer:
    """Signer backed by a PyNaCl signing key."""

    def __init__(self, seed: bytes) -> None:
        self._key = nacl.signing.SigningKey(seed)
        self._public = bytes(self._key.verify_key)

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data).signature

    def __repr__(self) -> str:  # never print key material
        return f"Ed25519Signer(public_key={self._public.hex()[:16]}…)"


class Ed25519Verifier:
    """Verifier over Ed25519; keeps parsed verify keys for the (small) validator set."""

    def __init__(self) -> None:
        self._keys: dict[bytes, nacl.signing.VerifyKey] = {}

    def verify(self, public_key: bytes, data: bytes, signature: bytes) -> bool:
        if len(public_key) != 32 or len(signature) != 64:
            return False
        key = self._keys.get(public_key)
        if key is None:
            try:
                key = nacl.signing.VerifyKey(public_key)
            except (nacl.exceptions.CryptoError, ValueError, TypeError):
                return False
            if len(self._keys) < 4096:
                self._keys[public_key] = key
        try:
            key.verify(data, signature)
        except nacl.exceptions.BadSignatureError:
            return False
        return True
