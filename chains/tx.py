"""Client transactions: decode, check the shape, and compute ids.

The envelope's body is the exact byte string the client signed; it travels and is stored
unchanged. A tx id is the channel's suite hash (SHA-256, or SM3 on `sm2-sm3`) of the whole
serialized envelope, as consensus computes it (`ConsensusConfig.hashing`).
Both the envelope and its body must be canonically encoded (consensus/canonical.py): a
re-framed copy of a signed tx is refused as MALFORMED (`non_canonical`) instead of getting
a new id, so replay protection by id cannot be sidestepped without the signer's key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError

from consensus.canonical import NON_CANONICAL, is_canonical
from consensus.hashing import SHA256, Hashing, sha256
from crypto import DEFAULT_SUITE, SIGNATURE_SHAPES
from protos import api_pb2 as api

if TYPE_CHECKING:
    from crypto import Suite

# The default suite's (ed25519-sha256) lengths, and every suite's (signer, signature) shape.
PUBLIC_KEY_BYTES, SIGNATURE_BYTES = SIGNATURE_SHAPES["ed25519-sha256"]
_ANY_SHAPE = tuple(SIGNATURE_SHAPES.values())


@dataclass(frozen=True, slots=True)
class DecodedTx:
    """A structurally valid tx (its signature is checked separately, in batches)."""

    tx_id: bytes
    raw: bytes
    signer: bytes
    body_bytes: bytes
    signature: bytes
    body: api.TxBody


class TxError(Exception):
    """A tx refused before signature checks; `status` is what the client is told."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


Hash = Callable[[bytes], bytes]


def suite_hashing(suite: Suite | None) -> Hashing:
    """What the core hashes with on a channel of `suite` (`ConsensusConfig.hashing`): for
    `ed25519-sha256` (or no suite) consensus/hashing.py's SHA-256 functions, bound once,
    so the default path runs exactly the code it always ran; any other suite itself (a
    `Suite` has the `Hashing` shape)."""
    return SHA256 if suite is None or suite.name == DEFAULT_SUITE else suite


def tx_id(raw: bytes, hash_: Hash = sha256) -> bytes:
    """The tx's id: `hash_` (the channel's suite hash, `suite_hashing(...).hash`) of the
    whole envelope."""
    return hash_(raw)


def decode_tx(
    raw: bytes,
    chain_id: str,
    tx_bytes_max: int,
    suite: Suite | None = None,
    tx_hash: Hash | None = None,
    tx_id: bytes | None = None,
) -> DecodedTx:
    """Parse and check one serialized TxEnvelope; raise TxError with the status to report.
    The signer and signature must have the lengths of the channel's crypto suite, so a
    key of another suite is MALFORMED before any check runs. Without a suite (admission,
    before it knows the tx's channel; committed txs, already verified) any suite's shape
    passes here and the suite's verifier refuses a foreign one (BAD_SIGNATURE). The id is
    `tx_hash` of the envelope, by default the suite's hash (SHA-256 without a suite);
    a caller that hashed the envelope already passes its id as `tx_id`."""
    if len(raw) > tx_bytes_max:
        raise TxError(api.TOO_LARGE, f"{len(raw)} bytes > tx_bytes_max {tx_bytes_max}")
    env = api.TxEnvelope()
    body = api.TxBody()
    try:
        env.ParseFromString(raw)
        body.ParseFromString(env.body)
    except DecodeError as e:
        raise TxError(api.MALFORMED, "not a TxEnvelope") from e
    if not (is_canonical(env, raw) and is_canonical(body, env.body)):
        raise TxError(api.MALFORMED, f"{NON_CANONICAL}: re-encode the tx deterministically")
    shapes = ((suite.public_key_bytes, suite.signature_bytes),) if suite else _ANY_SHAPE
    if (len(env.signer), len(env.signature)) not in shapes:
        key_bytes, sig_bytes = shapes[0]
        raise TxError(api.MALFORMED, f"signer must be {key_bytes} bytes and signature {sig_bytes}")
    if not env.body:
        raise TxError(api.MALFORMED, "empty body")
    if body.chain_id != chain_id:
        raise TxError(api.WRONG_CHAIN, f"chain id {body.chain_id!r}")
    if not body.type:
        raise TxError(api.MALFORMED, "missing type")
    if tx_id is not None:
        ident = tx_id
    else:
        ident = tx_hash(raw) if tx_hash is not None else suite_hashing(suite).hash(raw)
    return DecodedTx(ident, raw, env.signer, env.body, env.signature, body)


def encode_tx(body: api.TxBody, signer_key: object) -> bytes:
    """Sign a body and return the serialized envelope (client side). The key is a nacl
    SigningKey (or one in its shape: `sign(m).signature`, `verify_key`), or a Signer of
    any suite (`sign(m)` giving the signature, `public_key`: crypto.SuiteSigner)."""
    body_bytes = body.SerializeToString(deterministic=True)
    if hasattr(signer_key, "verify_key"):  # nacl's shape: today's path, unchanged
        signature = signer_key.sign(body_bytes).signature  # type: ignore[attr-defined]
        public = bytes(signer_key.verify_key)  # type: ignore[attr-defined]
    else:
        signature = signer_key.sign(body_bytes)  # type: ignore[attr-defined]
        public = signer_key.public_key  # type: ignore[attr-defined]
    env = api.TxEnvelope(body=body_bytes, signature=signature, signer=public)
    return env.SerializeToString(deterministic=True)
