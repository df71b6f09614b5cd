"""Digests and Merkle roots used by blocks and certificates."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

DIGEST_BYTES = 32
ZERO_HASH = bytes(DIGEST_BYTES)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
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
