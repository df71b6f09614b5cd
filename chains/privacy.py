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
"""

from __future__ import annotations

import hashlib
import hmac

import nacl.bindings
import nacl.public
import nacl.signing

from consensus.hashing import merkle_root

SALT_BYTES = 16


def subject_ref(subject_key: bytes, id_number: str) -> bytes:
    """Keyed reference of a person or company by ID number (case and spaces normalised)."""
    normalised = "".join(id_number.split()).upper().encode()
    return hmac.new(subject_key, b"govchain-subject|" + normalised, hashlib.sha256).digest()


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def commit_item(salt: bytes, code: str, value: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + _field(salt) + _field(code.encode()) + _field(value)).digest()


def items_root(commitments: list[bytes]) -> bytes:
    return merkle_root(commitments)


def seal_to(ed25519_public_key: bytes, data: bytes) -> bytes:
    """Encrypt `data` so only the holder of this Ed25519 key's private half can read it."""
    curve = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(ed25519_public_key)
    return nacl.public.SealedBox(nacl.public.PublicKey(curve)).encrypt(data)


def open_sealed(signing_key: nacl.signing.SigningKey, sealed: bytes) -> bytes:
    private = signing_key.to_curve25519_private_key()
    return nacl.public.SealedBox(private).decrypt(sealed)
