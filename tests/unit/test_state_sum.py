"""The state commitment (storage/state_sum.py): a sum kept block by block equals the sum
recomputed from the whole state, whatever order the writes came in; it tells apart what
a snapshot joiner must not confuse; the SM3 expansion is the GM/T 0003.4 KDF."""

from __future__ import annotations

import hashlib
import random

import pytest

from consensus.hashing import SHA256
from crypto import suite_by_name
from storage.state_sum import (
    EMPTY_SUM,
    MODULUS,
    block_sum,
    element,
    state_entry,
    sum_of,
    to_bytes,
    to_int,
    tx_entry,
)


def _full_sum(state: dict[bytes, bytes], txs: dict[bytes, tuple[int, int]]) -> bytes:
    entries = [state_entry(k, v) for k, v in state.items()]
    entries += [tx_entry(t, h, i) for t, (h, i) in txs.items()]
    return to_bytes(sum_of(SHA256, entries))


def test_the_running_sum_equals_the_sum_of_the_whole_state() -> None:
    rng = random.Random(7)
    state: dict[bytes, bytes] = {}
    txs: dict[bytes, tuple[int, int]] = {}
    running = EMPTY_SUM
    for height in range(1, 40):
        writes: dict[bytes, bytes | None] = {}
        for _ in range(rng.randrange(0, 12)):
            key = b"k%d" % rng.randrange(30)
            writes[key] = None if rng.random() < 0.3 else rng.randbytes(rng.randrange(0, 40))
        ids = [rng.randbytes(32) if rng.random() < 0.9 else b"" for _ in range(rng.randrange(5))]
        running = block_sum(SHA256, running, height, writes, state.get, ids)
        for key, value in writes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        for index, tid in enumerate(ids):
            if tid:
                txs[tid] = (height, index)
        assert running == _full_sum(state, txs), height


def test_deleting_what_was_written_returns_the_sum_to_where_it_was() -> None:
    before = block_sum(SHA256, EMPTY_SUM, 1, {b"a": b"1"}, {}.get, [])
    after = block_sum(SHA256, before, 2, {b"b": b"2"}, {}.get, [])
    back = block_sum(SHA256, after, 3, {b"b": None}, {b"b": b"2"}.get, [])
    assert back == before != after


def test_entries_that_must_differ_do() -> None:
    pairs = [
        (state_entry(b"ab", b"c"), state_entry(b"a", b"bc")),  # key/value boundary
        (state_entry(b"k", b""), state_entry(b"k", b"\x00")),
        (tx_entry(bytes(32), 1, 0), tx_entry(bytes(32), 1, 1)),  # the location counts
        (tx_entry(bytes(32), 1, 0), tx_entry(bytes(32), 2, 0)),
    ]
    for one, other in pairs:
        assert element(SHA256, one) != element(SHA256, other)
    # a state entry can never stand for a tx entry: the kinds differ in the first byte
    assert state_entry(b"x", b"")[:1] != tx_entry(bytes(32), 1, 0)[:1]


def test_the_sum_is_512_bytes_modulo_2_to_the_4096() -> None:
    assert len(EMPTY_SUM) == 512 and MODULUS == 1 << 4096
    assert to_int(to_bytes(MODULUS + 5)) == 5
    assert to_bytes(-1) == b"\xff" * 512  # a subtraction below zero wraps


def test_sm3_expansion_is_the_sm2_kdf() -> None:
    sm = suite_by_name("sm2-sm3")
    data = b"govchain"
    want = b"".join(hashlib.new("sm3", data + c.to_bytes(4, "big")).digest() for c in range(1, 18))[
        :520
    ]
    assert sm.expand(data, 520) == want
    assert SHA256.expand(data, 64) == hashlib.shake_256(data).digest(64)


def test_the_full_integrity_check_finds_an_altered_state_value_or_a_lost_tx_id() -> None:
    from storage.ledger import ChannelLedger, CorruptLedger
    from storage.stores import MemoryStore
    from tests.unit.test_executor import CHANNEL, GENESIS_HASH, block, execute_into, put

    ledger = ChannelLedger(MemoryStore(), CHANNEL, GENESIS_HASH)
    batch = ledger.batch()
    first = block([put(b"a", b"1"), put(b"b", b"2")], height=1)
    execute_into(ledger, batch, first)
    execute_into(ledger, batch, block([put(b"a", b"3")], height=2, parent=first.digest))
    ledger.commit(batch)
    ledger.verify_integrity(full=True)
    ledger.store.write([(b"s:a", b"4")])  # a value changed behind the executor's back
    with pytest.raises(CorruptLedger, match="state sum"):
        ledger.verify_integrity(full=True)
    ledger.verify_integrity()  # the quick startup check reads no state
    ledger.store.write([(b"s:a", b"3")])
    ledger.verify_integrity(full=True)
    (tx_key, _), *_ = ledger.store.iterate(b"t:")
    ledger.store.write([], [tx_key])  # a lost replay-protection entry
    with pytest.raises(CorruptLedger, match="state sum"):
        ledger.verify_integrity(full=True)
