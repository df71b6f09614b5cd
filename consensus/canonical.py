"""One encoding per signed thing: parse protobuf bytes only if they are canonical.

Protobuf parsers accept many byte strings for one message: fields in any order, a field
repeated (the last wins), unknown fields, varints padded with 0x80 bytes, a default value
written out. Anything identified or deduplicated by a hash of its bytes (a tx id, a block
digest, a vote) could then be replayed under a new identity by re-framing it, without its
signer. The rule that closes this, everywhere a peer or client hands us a signed thing:

    bytes are accepted only if they equal the deterministic re-encoding of what they parse
    to, with no unknown fields.

So every accepted message has exactly one byte string, and an id computed over those bytes
names the message, not one of its framings. Encoders must produce the canonical form:
`SerializeToString(deterministic=True)` (fields in number order, defaults omitted; our
signed messages hold no maps or floats).
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import DecodeError, Message

M = TypeVar("M", bound=Message)

NON_CANONICAL = "non_canonical"


class NonCanonical(ValueError):
    """The bytes parse, but are not the one canonical encoding of what they hold."""


def canonical_bytes(msg: Message) -> bytes:
    """The canonical encoding of `msg`: deterministic, unknown fields dropped."""
    return msg.SerializeToString(deterministic=True)


def decode_canonical(cls: type[M], raw: bytes) -> M:
    """Parse `raw` as `cls`; raise DecodeError if it does not parse and NonCanonical if it
    is not the canonical encoding (unknown, repeated or reordered fields, padded varints,
    defaults written out)."""
    msg = cls()
    msg.ParseFromString(raw)
    if not is_canonical(msg, raw):
        raise NonCanonical(f"{cls.__name__} is not canonically encoded")
    return msg


def is_canonical(msg: Message, raw: bytes) -> bool:
    """True if `raw`, already parsed into `msg`, is its canonical encoding. Drops unknown
    fields from `msg` (recursively): a canonical message has none, so this costs nothing
    for the bytes it accepts."""
    msg.DiscardUnknownFields()
    return msg.SerializeToString(deterministic=True) == raw


__all__ = [
    "NON_CANONICAL",
    "DecodeError",
    "NonCanonical",
    "canonical_bytes",
    "decode_canonical",
    "is_canonical",
]
