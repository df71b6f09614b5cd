"""The state commitment: one sum over everything a channel's execution depends on.

Why a sum. A joining node takes a channel's state from a snapshot rather than replaying
every block (node/snapshots.py, node/state_sync.py), so the state root that 2f+1
validators sign in a checkpoint must commit to the state's *contents*, not only to the
history of writes. A Merkle tree over millions of keys costs Python work per write that
grows with the state; an additive multiset hash costs the same per write whatever the
size: each entry maps to a 4096-bit number (the suite's XOF over the entry), and the
commitment is their sum modulo 2^4096. A block adds the numbers of what it writes and
subtracts those of what it overwrites or deletes, so the sum never needs a scan, and a
snapshot verifies chunk by chunk: each chunk's partial sum is checked on arrival, and
the partial sums must add up to the certified one (AdHash, Bellare and Micciancio 1997;
the modulus is sized after Wagner's k-sum attack for 128-bit security, 2 * sqrt(4096)).

What is summed: every world-state entry (`s:` key, value) and every committed tx id with
its location (the `t:` index), because the executor refuses a repeat of any committed
tx for the life of the chain: a joiner missing one id would accept a replay its peers
refuse. Entries are domain-separated by a one-byte kind, so a state entry can never
stand for a tx entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from consensus.hashing import Hashing

SUM_BYTES = 512  # 4096 bits
MODULUS = 1 << (8 * SUM_BYTES)
EMPTY_SUM = bytes(SUM_BYTES)
STATE_ENTRY = b"s"
TX_ENTRY = b"t"
DOMAIN = b"govchain-state-sum|"


def state_entry(key: bytes, value: bytes) -> bytes:
    """The bytes one world-state entry contributes: kind, key length, key, value."""
    return STATE_ENTRY + len(key).to_bytes(4, "big") + key + value


def tx_entry(tx_id: bytes, height: int, index: int) -> bytes:
    """The bytes one committed tx contributes: kind, id, height (8 bytes), index (4)."""
    return TX_ENTRY + tx_id + height.to_bytes(8, "big") + index.to_bytes(4, "big")


def element(hashing: Hashing, entry: bytes) -> int:
    return int.from_bytes(hashing.expand(DOMAIN + entry, SUM_BYTES), "little")


def to_int(raw: bytes) -> int:
    if len(raw) != SUM_BYTES:
        raise ValueError(f"a state sum has {SUM_BYTES} bytes, not {len(raw)}")
    return int.from_bytes(raw, "little")


def to_bytes(value: int) -> bytes:
    return (value % MODULUS).to_bytes(SUM_BYTES, "little")


def sum_of(hashing: Hashing, entries: Iterable[bytes]) -> int:
    """The sum of these entries' elements (a snapshot chunk's partial sum)."""
    total = 0
    for entry in entries:
        total += element(hashing, entry)
    return total % MODULUS


def block_sum(
    hashing: Hashing,
    previous: bytes,
    height: int,
    writes: Mapping[bytes, bytes | None],
    old_value: Callable[[bytes], bytes | None],
    tx_ids: Iterable[bytes],
) -> bytes:
    """The sum after a block: `previous`, minus what each written key held before the
    block (`old_value`), plus what it holds after, plus each newly indexed tx (an empty
    id marks a repeat, which is not indexed again)."""
    total = to_int(previous) if previous else 0
    for key, value in writes.items():
        old = old_value(key)
        if old is not None:
            total -= element(hashing, state_entry(key, old))
        if value is not None:
            total += element(hashing, state_entry(key, value))
    for index, tx_id in enumerate(tx_ids):
        if tx_id:
            total += element(hashing, tx_entry(tx_id, height, index))
    return to_bytes(total)
