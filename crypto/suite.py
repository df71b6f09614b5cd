"""The one interface every crypto suite offers, and the choice of a suite by name.

A chain's genesis names its suite (`ed25519-sha256`, today's and the default, or
`sm2-sm3`), and everything that hashes, signs, verifies, keys a hash or seals a value asks
that suite rather than a library. Keys and signatures are plain bytes of fixed length,
so they travel and are stored as they are today. A key file holds a 32-byte seed, and
`private_key_from_seed` turns it into the suite's private key (for Ed25519 the seed
itself, for SM2 the scalar d), which `sign`, `public_key` and `open_sealed` take; a
public key is what the validator set lists.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Sequence

from crypto import merkle

Item = tuple[bytes, bytes, bytes]  # (public key, signed bytes, signature)
SEED_BYTES = 32


class Suite(ABC):
    """Hash, Merkle tree, keyed hash, signatures and sealing of one suite."""

    name: str
    digest_bytes: int = 32
    private_key_bytes: int = 32
    public_key_bytes: int
    signature_bytes: int

    @abstractmethod
    def hash(self, data: bytes) -> bytes:
        """The suite's digest: tx ids, block hashes, commitments."""

    @abstractmethod
    def keyed_hash(self, key: bytes, data: bytes) -> bytes:
        """HMAC under the suite's hash: subject references nobody can brute-force."""

    @abstractmethod
    def private_key_from_seed(self, seed: bytes) -> bytes:
        """The private key a 32-byte seed stands for (deterministic)."""

    @abstractmethod
    def public_key(self, private_key: bytes) -> bytes: ...

    @abstractmethod
    def sign(self, private_key: bytes, message: bytes) -> bytes: ...

    @abstractmethod
    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """True for a valid signature; False, never an exception, for anything else."""

    @abstractmethod
    def seal(self, public_key: bytes, data: bytes) -> bytes:
        """Encrypt so only the key's holder can read it; the sender stays anonymous."""

    @abstractmethod
    def open_sealed(self, private_key: bytes, sealed: bytes) -> bytes | None:
        """The sealed data, or None if it was not sealed to this key or was altered."""

    def expand(self, data: bytes, size: int) -> bytes:
        """`size` bytes from `data`: the suite hash in counter mode, as the KDF of GM/T
        0003.4 (SM2) builds it, H(data || 1) || H(data || 2) || ... with 4-byte counters."""
        out = b"".join(
            self.hash(data + counter.to_bytes(4, "big"))
            for counter in range(1, -(-size // self.digest_bytes) + 1)
        )
        return out[:size]

    def generate_private_key(self) -> bytes:
        return self.private_key_from_seed(secrets.token_bytes(SEED_BYTES))

    def verify_batch(self, items: Sequence[Item]) -> list[bool]:
        """One verdict per item; a bad one fails only itself. Both suites' libraries drop
        the GIL inside each check, so a thread pool given chunks of a batch uses every
        core (the node's verifier does that)."""
        return [self.verify(*item) for item in items]

    def merkle_root(self, leaves: Sequence[bytes]) -> bytes:
        return merkle.root(self.hash, leaves)

    def merkle_proof(self, leaves: Sequence[bytes], index: int) -> list[bytes]:
        return merkle.proof(self.hash, leaves, index)

    def verify_merkle_proof(
        self, leaf: bytes, index: int, count: int, proof: Sequence[bytes], root: bytes
    ) -> bool:
        return merkle.verify_proof(self.hash, leaf, index, count, proof, root)

    def __repr__(self) -> str:
        return f"suite_by_name({self.name!r})"


class SuiteSigner:
    """Signs as one key of a suite: the shape of the core's `Signer` (consensus/crypto.py)
    and of what `chains.tx.encode_tx` takes, so votes, hellos and txs sign through the
    suite without the core importing this package."""

    def __init__(self, suite: Suite, private_key: bytes) -> None:
        self.suite = suite
        self._private = private_key
        self._public = suite.public_key(private_key)

    @classmethod
    def from_seed(cls, suite: Suite, seed: bytes) -> SuiteSigner:
        """The signer a key file's 32-byte seed stands for in `suite`."""
        return cls(suite, suite.private_key_from_seed(seed))

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self.suite.sign(self._private, data)

    def open_sealed(self, sealed: bytes) -> bytes | None:
        """A value sealed to this key (`Suite.seal`), or None: the private key stays here."""
        return self.suite.open_sealed(self._private, sealed)

    def derive_key(self, label: bytes) -> bytes:
        """A 32-byte secret only this key's holder can compute: the suite's keyed hash under
        the private key. What a key derived from a signature gives on Ed25519 (whose
        signatures are deterministic), for suites whose signatures are randomised (SM2):
        the sidecar's sealing key (sources/sealing.py)."""
        return self.suite.keyed_hash(self._private, b"govchain-derive|" + label)

    def __repr__(self) -> str:  # never print key material
        return f"SuiteSigner({self.suite.name}, public_key={self._public.hex()[:16]}…)"


def suite_by_name(name: str) -> Suite:
    """The suite a genesis names; ValueError for any other name. Each suite's module is
    imported only when asked for, so a Python without SM3 still runs `ed25519-sha256`."""
    if name == "ed25519-sha256":
        from crypto.ed25519_sha256 import ED25519_SHA256

        return ED25519_SHA256
    if name == "sm2-sm3":
        from crypto.sm2_sm3 import SM2_SM3

        return SM2_SM3
    raise ValueError(f"unknown crypto suite {name!r}; known: ed25519-sha256, sm2-sm3")
