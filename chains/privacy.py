"""Keeping personal data off the chain: subject references, item commitments, sealing.

- A person or company appears on chain only as `subject_ref` = HMAC-SHA256 under the
  consortium's subject key of the normalised ID number. A plain hash of an 18-character
  ID number can be brute-forced in minutes; without the key it cannot.
- A license's data items are anchored as salted commitments SHA-256(0x00 | field(salt) |
  field(code) | field(value)), each field its 4-byte big-endian length then its bytes
  (docs/protocol.md has a worked example). The salt and value stay with the issuing
  department; a requester who receives (salt, value) checks them against the commitment.
- Values travel sealed to the requester's Ed25519 key, converted to X25519 (NaCl sealed
  box): only the requesting department can open them, and the sender stays anonymous to
  anyone in between.

Each function takes the channel's crypto suite (`suite`, None for `ed25519-sha256`): on
`sm2-sm3` the subject reference is HMAC-SM3, a commitment SM3, the items root the Merkle
tree over SM3, and values are sealed by SM2 public-key encryption to the requester's SM2
key (docs/compliance.md). Without a suite each is byte for byte what it always was.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

import nacl.bindings
import nacl.public
import nacl.signing

from consensus.hashing import merkle_root

if TYPE_CHECKING:
    from crypto import Suite, SuiteSigner

SALT_BYTES = 16


class SealError(ValueError):
    """A sealed value that does not open under this key (another key, or altered)."""


def _is_default(suite: Suite | None) -> bool:
    return suite is None or suite.name == "ed25519-sha256"


def subject_ref(subject_key: bytes, id_number: str, suite: Suite | None = None) -> bytes:
    """Keyed reference of a person or company by ID number (case and spaces normalised):
    HMAC under the suite's hash (HMAC-SM3 on `sm2-sm3`)."""
    message = b"govchain-subject|" + "".join(id_number.split()).upper().encode()
    if _is_default(suite):
        return hmac.new(subject_key, message, hashlib.sha256).digest()
    return suite.keyed_hash(subject_key, message)  # type: ignore[union-attr]


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def commit_item(salt: bytes, code: str, value: bytes, suite: Suite | None = None) -> bytes:
    """The salted commitment of one item value, by the suite's hash."""
    data = b"\x00" + _field(salt) + _field(code.encode()) + _field(value)
    return hashlib.sha256(data).digest() if _is_default(suite) else suite.hash(data)  # type: ignore[union-attr]


def items_root(commitments: list[bytes], suite: Suite | None = None) -> bytes:
    if _is_default(suite):
        return merkle_root(commitments)
    return suite.merkle_root(commitments)  # type: ignore[union-attr]


def seal_to(public_key: bytes, data: bytes, suite: Suite | None = None) -> bytes:
    """Encrypt `data` so only the holder of this key's private half can read it: a NaCl
    sealed box to an Ed25519 key, or the suite's sealing (SM2 encryption) to its key."""
    if not _is_default(suite):
        return suite.seal(public_key, data)  # type: ignore[union-attr]
    curve = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(public_key)
    return nacl.public.SealedBox(nacl.public.PublicKey(curve)).encrypt(data)


def open_sealed(signing_key: nacl.signing.SigningKey | SuiteSigner, sealed: bytes) -> bytes:
    """Open a value sealed to this key: a nacl key opens a sealed box (raising nacl's
    CryptoError otherwise, as always); a suite's signer opens its suite's sealing, raising
    SealError for a value not sealed to it or altered."""
    if not isinstance(signing_key, nacl.signing.SigningKey):
        plain = signing_key.open_sealed(sealed)
        if plain is None:
            raise SealError("the value was not sealed to this key, or was altered")
        return plain
    private = signing_key.to_curve25519_private_key()
    return nacl.public.SealedBox(private).decrypt(sealed)
