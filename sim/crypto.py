"""Keys, signatures and client transactions for the simulator.

The simulator needs unforgeability, not Ed25519's speed profile: a signature is a keyed
BLAKE2b MAC under a secret only its owner (and the simulator's verifier, standing in for
public-key verification) holds. A Byzantine replica gets only its own signer, so it can
sign only as itself, exactly as with Ed25519. Scenario tests run on real Ed25519 keys and
on a real crypto suite (`suite="sm2-sm3"`: SM2's randomised signatures through the core).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from google.protobuf.message import DecodeError

from consensus.crypto import Ed25519Signer, Ed25519Verifier
from consensus.hashing import SHA256, Hashing, sha256
from consensus.membership import KIND_VALIDATORS, KIND_WRITE_POLICY, GovernanceTx, approval_bytes
from crypto import SuiteSigner, suite_by_name
from protos import consensus_pb2 as pb


class SimSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._public = hashlib.sha256(b"pub" + secret).digest()

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return hashlib.blake2b(data, key=self._secret, digest_size=32).digest()


class SimVerifier:
    """Knows every secret, so it can check any signature; counts the checks it does."""

    def __init__(self, signers: Sequence[SimSigner]) -> None:
        self._secrets = {s.public_key: s._secret for s in signers}
        self.checks = 0

    def verify(self, public_key: bytes, data: bytes, signature: bytes) -> bool:
        self.checks += 1
        secret = self._secrets.get(public_key)
        if secret is None:
            return False
        expected = hashlib.blake2b(data, key=secret, digest_size=32).digest()
        return hmac.compare_digest(expected, signature)


def make_signers(n: int, ed25519: bool = False, suite: str | None = None) -> list:
    """The validators' signers: the cheap MAC, real Ed25519, or a crypto suite by name."""
    seeds = [hashlib.sha256(b"validator-%d" % i).digest() for i in range(n)]
    if suite is not None:
        return [SuiteSigner.from_seed(suite_by_name(suite), s) for s in seeds]
    if ed25519:
        return [Ed25519Signer(s) for s in seeds]
    return [SimSigner(s) for s in seeds]


def suite_hashing(suite: str) -> Hashing:
    """The core's hashing on a channel of `suite`, as the node chooses it
    (chains.tx.suite_hashing): SHA-256's plain functions, or the suite itself (SM3)."""
    return SHA256 if suite == "ed25519-sha256" else suite_by_name(suite)


def make_verifier(signers: Sequence, ed25519: bool = False, suite: str | None = None):
    if suite is not None:
        return suite_by_name(suite)  # a Suite is a Verifier: verify(key, data, signature)
    return Ed25519Verifier() if ed25519 else SimVerifier(signers)


CLIENT_SECRET = b"simulated-clients-secret-key-000"
TX_SIG_BYTES = 32


def make_tx(client: int, nonce: int, pad: int = 0) -> bytes:
    """A client-signed tx: client (1 byte) | nonce (8) | padding | MAC (32)."""
    body = bytes([client]) + nonce.to_bytes(8, "big") + b"\x00" * pad
    return body + hashlib.blake2b(body, key=CLIENT_SECRET, digest_size=TX_SIG_BYTES).digest()


def forge_tx(nonce: int) -> bytes:
    """A tx no client signed (what a Byzantine primary can make)."""
    body = b"\xff" + nonce.to_bytes(8, "big")
    return body + b"\x00" * TX_SIG_BYTES


def tx_is_signed(tx: bytes) -> bool:
    if len(tx) < 9 + TX_SIG_BYTES:
        return False
    body, sig = tx[:-TX_SIG_BYTES], tx[-TX_SIG_BYTES:]
    expected = hashlib.blake2b(body, key=CLIENT_SECRET, digest_size=TX_SIG_BYTES).digest()
    return hmac.compare_digest(expected, sig)


GOV_CLIENT = 0xFE  # the client byte of governance txs


def make_gov_tx(
    kind: str, proposal: pb.GovernanceProposal, approvers: Sequence, nonce: int = 0
) -> bytes:
    """A client-signed governance tx: 0xFE | kind (1 byte) | nonce (8) | GovernanceTx | MAC,
    approved by `approvers` (signers of validators)."""
    raw = proposal.SerializeToString(deterministic=True)
    gtx = pb.GovernanceTx(
        proposal=raw,
        approvals=[
            pb.GovernanceApproval(validator=s.public_key, signature=s.sign(approval_bytes(raw)))
            for s in approvers
        ],
    )
    body = bytes([GOV_CLIENT]) + kind[:1].encode() + nonce.to_bytes(8, "big")
    body += gtx.SerializeToString()
    return body + hashlib.blake2b(body, key=CLIENT_SECRET, digest_size=TX_SIG_BYTES).digest()


class SimTxChecker:
    def __init__(self, hash_: Callable[[bytes], bytes] = sha256) -> None:
        self.tx_id = hash_  # the channel's suite hash (SHA-256 or SM3), as the node's

    def verify_txs(self, txs: Sequence[bytes]) -> list[bool]:
        return [tx_is_signed(tx) for tx in txs]

    def governance(self, tx: bytes) -> GovernanceTx | None:
        if not tx or tx[0] != GOV_CLIENT or not tx_is_signed(tx):
            return None
        kind = KIND_VALIDATORS if tx[1:2] == b"v" else KIND_WRITE_POLICY
        msg = pb.GovernanceTx()
        try:
            msg.ParseFromString(tx[10:-TX_SIG_BYTES])
        except DecodeError:
            return None
        approvals = tuple((a.validator, a.signature) for a in msg.approvals)
        return GovernanceTx(kind, msg.proposal, approvals)
