"""Digests and Merkle roots used by blocks and certificates: SHA-256 here, and the
`Hashing` shape through which a channel of another suite (SM3) hands the core its own."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

DIGEST_BYTES = 32
ZERO_HASH = bytes(DIGEST_BYTES)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def merkle_tree_hash(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash: leaves and nodes are domain-separated (0x00 / 0x01) so a
    leaf can never be passed off as an inner node; an odd node is promoted unchanged."""
    if not leaves:
        return sha256(b"")
    level = [sha256(b"\x00" + leaf) for leaf in leaves]
    while len(level) > 1:
        nxt = [sha256(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The tree hash bound to the leaf count (0x02 | count | tree hash). The tree alone
    does not commit to its size, so an inclusion proof could claim another leaf count
    and index; binding the count makes (index, count) part of what a proof proves."""
    return sha256(b"\x02" + len(leaves).to_bytes(8, "big") + merkle_tree_hash(leaves))


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes from leaf `index` up to the root of `merkle_root(leaves)`; a level
    where the node is promoted unpaired contributes no sibling."""
    level = [sha256(b"\x00" + leaf) for leaf in leaves]
    proof: list[bytes] = []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        nxt = [sha256(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level, index = nxt, index // 2
    return proof


def verify_merkle_proof(
    leaf: bytes, index: int, count: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True if `leaf` is leaf number `index` of a tree of `count` leaves with this root."""
    if not 0 <= index < count:
        return False
    node = sha256(b"\x00" + leaf)
    width, used = count, 0
    while width > 1:
        sibling = index ^ 1
        if sibling < width:
            if used >= len(proof):
                return False
            pair = (proof[used], node) if index % 2 else (node, proof[used])
            node = sha256(b"\x01" + pair[0] + pair[1])
            used += 1
        index, width = index // 2, (width + 1) // 2
    if used != len(proof):
        return False
    return sha256(b"\x02" + count.to_bytes(8, "big") + node) == root


class Hashing(Protocol):
    """The hash a channel's crypto suite names and the Merkle tree over it: handed to the
    core in its config (`ConsensusConfig.hashing`), so blocks, tx ids and proofs use SM3
    on an `sm2-sm3` channel while the core stays pure and imports no crypto library. A
    `crypto.Suite` has exactly this shape."""

    def hash(self, data: bytes) -> bytes: ...

    def merkle_root(self, leaves: Sequence[bytes]) -> bytes: ...

    def merkle_proof(self, leaves: Sequence[bytes], index: int) -> list[bytes]: ...

    def verify_merkle_proof(
        self, leaf: bytes, index: int, count: int, proof: Sequence[bytes], root: bytes
    ) -> bool: ...

    def expand(self, data: bytes, size: int) -> bytes:
        """`size` pseudorandom bytes from `data` (an extendable-output function): the
        elements of the state commitment (storage/state_sum.py)."""
        ...


def shake256(data: bytes, size: int) -> bytes:
    """SHAKE-256 (FIPS 202): the XOF beside SHA-256, one C call for any output size."""
    return hashlib.shake_256(data).digest(size)


class _Sha256Hashing:
    """SHA-256 (`ed25519-sha256`, the default): the functions above, bound once, so the
    default path calls exactly what it always called."""

    name = "sha256"
    hash = staticmethod(sha256)
    merkle_root = staticmethod(merkle_root)
    merkle_proof = staticmethod(merkle_proof)
    verify_merkle_proof = staticmethod(verify_merkle_proof)
    expand = staticmethod(shake256)

    def __repr__(self) -> str:
        return "SHA256"


SHA256: Hashing = _Sha256Hashing()
