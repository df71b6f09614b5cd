"""Crypto suites: every hash, signature, keyed hash and sealed value a chain makes, chosen
by the suite its genesis names, so a department can run a chain on the national (国密)
algorithms SM2/SM3 as well as on Ed25519/SHA-256 (issue 14, docs/compliance.md).

- suite.py: the `Suite` interface (hash, Merkle tree, keyed hash, keys from a seed,
  sign, verify, batched verify, seal), `SuiteSigner` (one key) and `suite_by_name`.
- ed25519_sha256.py: `ed25519-sha256`, today's behaviour byte for byte.
- sm2_sm3.py: `sm2-sm3`, SM2 (GB/T 32918) signatures and encryption, SM3 hashing.
- openssl_sm2.py: SM2 through the system's OpenSSL 3 by ctypes (releases the GIL).
- merkle.py: the Merkle tree over any suite's hash.

Nothing here keeps state beyond caches of parsed keys, reads a clock or does I/O (beyond
loading libcrypto once), and only key generation and SM2's per-signature nonce draw
randomness, so the consensus core can be handed a suite as it is handed a verifier today.
May import: nothing of govchain's (the standard library, PyNaCl and the system's
libcrypto only).
"""

from crypto.suite import Item, Suite, SuiteSigner, suite_by_name

SUITE_NAMES = ("ed25519-sha256", "sm2-sm3")

DEFAULT_SUITE = "ed25519-sha256"
# (public key, signature) lengths per suite, without loading a suite's library: what a tx
# decoder that does not know its channel's suite yet accepts as a shape (a test holds
# these equal to the suites' own).
SIGNATURE_SHAPES = {"ed25519-sha256": (32, 64), "sm2-sm3": (65, 64)}

__all__ = [
    "DEFAULT_SUITE",
    "SIGNATURE_SHAPES",
    "SUITE_NAMES",
    "Item",
    "Suite",
    "SuiteSigner",
    "suite_by_name",
]
