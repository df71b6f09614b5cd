"""Merkle inclusion proofs (consensus.hashing): every leaf of every small tree proves
against `merkle_root`, and any change to the leaf, its position, the tree size, the proof
or the root makes verification fail.
"""

from __future__ import annotations

import pytest

from consensus.hashing import (
    merkle_proof,
    merkle_root,
    merkle_tree_hash,
    sha256,
    verify_merkle_proof,
)

COUNTS = range(1, 34)


def leaves_of(count: int, salt: bytes = b"tx") -> list[bytes]:
    return [salt + b"-%d" % i for i in range(count)]


def cases(count: int) -> list[tuple[list[bytes], int, list[bytes], bytes]]:
    leaves = leaves_of(count)
    root = merkle_root(leaves)
    return [(leaves, i, merkle_proof(leaves, i), root) for i in range(count)]


@pytest.mark.parametrize("count", COUNTS)
def test_every_leaf_proves_against_the_root(count: int) -> None:
    for leaves, i, proof, root in cases(count):
        assert verify_merkle_proof(leaves[i], i, count, proof, root), (count, i)


@pytest.mark.parametrize("count", COUNTS)
def test_proof_length_is_at_most_the_tree_depth(count: int) -> None:
    depth = (count - 1).bit_length()
    for _, _, proof, _ in cases(count):
        assert len(proof) <= depth
        assert all(len(sibling) == 32 for sibling in proof)


def test_single_leaf_tree_has_an_empty_proof_and_its_leaf_hash_as_root() -> None:
    assert merkle_proof([b"only"], 0) == []
    assert merkle_tree_hash([b"only"]) == sha256(b"\x00only")
    assert verify_merkle_proof(b"only", 0, 1, [], merkle_root([b"only"]))


@pytest.mark.parametrize("count", COUNTS)
def test_wrong_leaf_fails(count: int) -> None:
    for leaves, i, proof, root in cases(count):
        assert not verify_merkle_proof(leaves[i] + b"!", i, count, proof, root)
        assert not verify_merkle_proof(b"", i, count, proof, root)
        if count > 1:
            other = leaves[(i + 1) % count]
            assert not verify_merkle_proof(other, i, count, proof, root)


@pytest.mark.parametrize("count", COUNTS)
def test_wrong_index_fails(count: int) -> None:
    for leaves, i, proof, root in cases(count):
        for j in [*range(count), -1, count, count + 1]:
            if j != i:
                assert not verify_merkle_proof(leaves[i], j, count, proof, root), (count, i, j)


@pytest.mark.parametrize("count", COUNTS)
def test_count_that_does_not_hold_the_index_fails(count: int) -> None:
    for leaves, i, proof, root in cases(count):
        for wrong in range(-1, i + 1):
            assert not verify_merkle_proof(leaves[i], i, wrong, proof, root)


@pytest.mark.parametrize("count", COUNTS)
def test_count_that_needs_another_number_of_siblings_fails(count: int) -> None:
    for leaves, i, proof, root in cases(count):
        for wrong in range(i + 1, 40):
            if len(merkle_proof(leaves_of(wrong), i)) != len(proof):
                assert not verify_merkle_proof(leaves[i], i, wrong, proof, root), (count, i, wrong)


@pytest.mark.parametrize("count", COUNTS)
def test_truncated_proof_fails(count: int) -> None:
    for leaves, i, proof, root in cases(count):
        for cut in (proof[:-1], proof[1:]):
            if cut != proof:
                assert not verify_merkle_proof(leaves[i], i, count, cut, root)


@pytest.mark.parametrize("count", COUNTS)
def test_extended_proof_fails(count: int) -> None:
    for leaves, i, proof, root in cases(count):
        extra = sha256(b"extra")
        for longer in ([*proof, extra], [extra, *proof], [*proof, root]):
            assert not verify_merkle_proof(leaves[i], i, count, longer, root)


@pytest.mark.parametrize("count", range(2, 34))
def test_altered_sibling_fails(count: int) -> None:
    for leaves, i, proof, root in cases(count):
        for k in range(len(proof)):
            altered = list(proof)
            altered[k] = bytes([altered[k][0] ^ 1]) + altered[k][1:]
            assert not verify_merkle_proof(leaves[i], i, count, altered, root)


@pytest.mark.parametrize("count", COUNTS)
def test_another_root_fails(count: int) -> None:
    other_roots = [
        merkle_root(leaves_of(count, salt=b"other")),
        merkle_root(leaves_of(count + 1)),
        merkle_root([]),
        bytes(32),
    ]
    for leaves, i, proof, _ in cases(count):
        for root in other_roots:
            assert not verify_merkle_proof(leaves[i], i, count, proof, root)


def test_empty_tree_proves_nothing() -> None:
    root = merkle_root([])
    assert merkle_tree_hash([]) == sha256(b"")
    assert not verify_merkle_proof(b"", 0, 0, [], root)


def test_inner_node_cannot_be_passed_off_as_a_leaf() -> None:
    leaves = leaves_of(4)
    hashed = [sha256(b"\x00" + leaf) for leaf in leaves]
    left = sha256(b"\x01" + hashed[0] + hashed[1])
    right = sha256(b"\x01" + hashed[2] + hashed[3])
    root = merkle_root(leaves)
    assert merkle_tree_hash(leaves) == sha256(b"\x01" + left + right)
    # the concatenation of the two children, presented as the only leaf, is not the root
    assert not verify_merkle_proof(left + right, 0, 1, [], root)
    # nor is an inner node presented as a leaf of the two-node level above
    assert not verify_merkle_proof(hashed[0] + hashed[1], 0, 2, [right], root)


def test_a_proof_does_not_verify_for_another_leaf_count_or_index() -> None:
    """The root binds the leaf count, so (index, count) in a proof are authenticated."""
    four = [b"a", b"b", b"c", b"d"]
    assert not verify_merkle_proof(b"a", 0, 3, merkle_proof(four, 0), merkle_root(four))
    three = [b"a", b"b", b"c"]
    assert not verify_merkle_proof(b"c", 1, 2, merkle_proof(three, 2), merkle_root(three))
    for count in range(1, 12):
        leaves = [b"%d" % i for i in range(count)]
        root = merkle_root(leaves)
        for i in range(count):
            proof = merkle_proof(leaves, i)
            for other in range(1, 14):
                for j in range(other):
                    ok = verify_merkle_proof(leaves[i], j, other, proof, root)
                    assert ok == (other == count and j == i)
