"""Durable storage of one node: bytes, key layout and atomic batches, not the protocol.

Each channel has its own byte store (one LevelDB directory per channel in the node, a
dict in tests). `stores.py` is the store contract (`ByteStore`) and its two implementations
(`LevelDBStore`, `MemoryStore`); `codec.py` turns the consensus core's persisted records
into protobuf bytes; `ledger.py` lays out one channel's blocks, results, indexes, world
state and consensus records over a store; `integrity.py` checks that layout at startup;
`pruning.py` deletes old blocks and results down to a retention height; `state_sum.py`
is the state commitment (a multiset hash over world state and tx index) the state root
binds; `snapshot.py` cuts that state into checked chunks and installs them in a joiner.

May import: `consensus` and `protos`; never the node (tests/unit/test_dependencies.py
holds the table). From `consensus` it takes the core's record types (for their codec,
and the checkpoint certificate it stores) and `hashing`: the ledger recomputes what the
bytes themselves name — each block's digest from its header (at commit and at startup),
the ids of recently committed txs from their bytes (SHA-256, handed to the core at
restart), and in a full integrity check each block's `tx_root` as the Merkle root of
its txs.

Why the package is this narrow: everything the consensus core asks to persist, and every
executed block, reaches disk as ONE atomic, synced write batch. A crash then leaves
either all of a step's writes or none, so a restarted replica can never find a block
without its certificate, a tip ahead of its blocks, or a vote it sent but forgot. What a
record means (which view wins, whether a certificate is valid for the protocol) is the
core's business (node/integrity.py asks it at startup); storage only checks what it
needs to keep its own layout consistent, hashes included.
"""
