"""The Merkle tree of blocks and licences, over whichever hash a suite uses.

The construction is the one consensus/hashing.py has always computed with SHA-256 (RFC
6962 domain separation, an odd node promoted unchanged, the root bound to the leaf
count); with SHA-256 the bytes are identical, and a test holds them so. Written over a
hash function so the `sm2-sm3` suite gets the same tree with SM3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Hash = Callable[[bytes], bytes]
LEAF, NODE, ROOT = b"\x00", b"\x01", b"\x02"


def _parents(hash_: Hash, level: list[bytes]) -> list[bytes]:
    """The level above: pairs hashed under the node tag, a last unpaired node promoted."""
    pairs = zip(level[0::2], level[1::2], strict=False)
    above = [hash_(NODE + left + right) for left, right in pairs]
    return [*above, level[-1]] if len(level) % 2 else above


def tree_hash(hash_: Hash, leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 tree hash; the empty tree hashes the empty string."""
    level = [hash_(LEAF + leaf) for leaf in leaves]
    if not level:
        return hash_(b"")
    while len(level) > 1:
        level = _parents(hash_, level)
    return level[0]


def root(hash_: Hash, leaves: Sequence[bytes]) -> bytes:
    """hash(0x02 | count as 8 bytes | tree hash): binding the count makes (index, count)
    part of what an inclusion proof proves."""
    return hash_(ROOT + len(leaves).to_bytes(8, "big") + tree_hash(hash_, leaves))


def proof(hash_: Hash, leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes from leaf `index` up; a level where the node is unpaired adds none."""
    level, path = [hash_(LEAF + leaf) for leaf in leaves], []
    while len(level) > 1:
        if index ^ 1 < len(level):
            path.append(level[index ^ 1])
        level, index = _parents(hash_, level), index // 2
    return path


def verify_proof(
    hash_: Hash, leaf: bytes, index: int, count: int, path: Sequence[bytes], expected: bytes
) -> bool:
    """True if `leaf` is leaf `index` of a `count`-leaf tree whose root is `expected`."""
    if not 0 <= index < count:
        return False
    node, width, siblings = hash_(LEAF + leaf), count, iter(path)
    used = 0
    while width > 1:
        if index ^ 1 < width:
            sibling = next(siblings, None)
            if sibling is None:
                return False
            node = hash_(NODE + sibling + node) if index % 2 else hash_(NODE + node + sibling)
            used += 1
        index, width = index // 2, (width + 1) // 2
    return used == len(path) and hash_(ROOT + count.to_bytes(8, "big") + node) == expected
