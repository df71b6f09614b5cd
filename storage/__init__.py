"""Durable storage of one node: bytes and key layout, not the protocol.

Each channel has its own key-value store (one LevelDB directory per channel in the node,
a dict in tests and the simulator). `kv` is the store contract and its two
implementations; `codec` turns the consensus core's persisted records into protobuf
bytes; `ledger` lays out one channel's blocks, results, indexes, world state and
consensus records over a store.

Why the package is this narrow: everything the consensus core asks to persist, and every
executed block, reaches disk as ONE atomic, synced write batch. A crash then leaves
either all of a step's writes or none, so a restarted replica can never find a block
without its certificate, a tip ahead of its blocks, or a vote it sent but forgot. What a
record means (which view wins, whether a certificate is valid for the protocol) is the
core's business; storage only checks what it needs to keep its own layout consistent.
"""
