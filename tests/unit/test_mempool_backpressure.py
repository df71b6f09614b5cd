"""Backpressure (node/mempool.py): a client's tx is admitted only while the waiting txs
would commit within `queue_ms` at the channel's recent commit rate (never below the
floor); past that MEMPOOL_FULL comes at once, with a retry-after hint. Peers' gossip is
not held back. The rate follows the commits of the last few seconds."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from chains.kv import KvApplication
from chains.tx import decode_tx
from node.admission import ChannelAdmission, admit
from node.mempool import RATE_WINDOW_S, CommitRate, Mempool
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier
from protos import api_pb2 as api
from tests.unit.test_admission import CHAIN, LICENSE, TX_BYTES_MAX, put


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _txs(first: int, count: int) -> list:
    return [decode_tx(put(i), CHAIN, TX_BYTES_MAX) for i in range(first, first + count)]


def _fill(pool: Mempool, first: int, count: int, client: bool = True) -> int:
    """Add txs while the pool takes them; how many it took."""
    taken = 0
    for tx in _txs(first, count):
        if pool.check(tx, 1, lambda _: False, client=client) is not None:
            break
        pool.add(tx)
        taken += 1
    return taken


def test_the_commit_rate_is_over_the_last_seconds() -> None:
    clock = Clock()
    rate = CommitRate(clock)
    assert rate.per_s() == 0.0
    for _ in range(3):
        rate.add(1000)
        clock.now += 1.0
    assert rate.per_s() == pytest.approx(1000, rel=0.01)
    clock.now += RATE_WINDOW_S + 0.1  # idle: the old commits age out
    assert rate.per_s() == 0.0
    rate.add(5000)  # a burst right after idling counts over at least a second
    assert rate.per_s() == 5000


def test_clients_get_at_least_the_floor_then_a_paced_queue() -> None:
    clock = Clock()
    pool = Mempool(100_000, 1 << 30, queue_ms=300, floor_txs=50, clock=clock)
    assert pool.client_limit() == 50  # nothing committed yet: the floor
    assert _fill(pool, 0, 80) == 50
    refused = pool.check(_txs(999, 1)[0], 1, lambda _: False, client=True)
    assert refused is not None and refused[0] == api.MEMPOOL_FULL
    assert "busy" in refused[1] and "retry after" in refused[1]
    for _ in range(3):  # the channel commits 2,000 txs a second
        pool.rate.add(2000)
        clock.now += 1.0
    assert pool.client_limit() == pytest.approx(600, abs=10)  # 300 ms of commits
    assert _fill(pool, 100, 1000) == pytest.approx(550, abs=10)


def test_peers_gossip_is_bounded_only_by_the_hard_limits() -> None:
    pool = Mempool(200, 1 << 30, queue_ms=300, floor_txs=10, clock=Clock())
    assert _fill(pool, 0, 50, client=True) == 10
    assert _fill(pool, 100, 500, client=False) == 190  # up to txs_max
    refused = pool.check(_txs(999, 1)[0], 1, lambda _: False, client=False)
    assert refused is not None and refused[0] == api.MEMPOOL_FULL and "busy" not in refused[1]


def test_queue_ms_zero_turns_backpressure_off() -> None:
    pool = Mempool(300, 1 << 30, queue_ms=0, floor_txs=0, clock=Clock())
    assert _fill(pool, 0, 400) == 300


def test_a_block_s_committed_txs_feed_the_rate_and_leave_the_pool() -> None:
    clock = Clock()
    pool = Mempool(1000, 1 << 30, queue_ms=1000, floor_txs=1, clock=clock)
    txs = _txs(0, 10)
    for tx in txs:
        pool.add(tx)
    pool.remove([tx.tx_id for tx in txs[:6]] + [b""])  # an empty id: a repeat, not counted
    assert len(pool) == 4
    clock.now += 1.0
    assert pool.rate.per_s() == 6.0


def _license(verifier: BatchVerifier, pool: Mempool) -> dict[str, ChannelAdmission]:
    """One channel's admission over this mempool (what admit() is handed)."""
    admission = ChannelAdmission(
        checker=NodeTxChecker(verifier, CHAIN, LICENSE, TX_BYTES_MAX),
        mempool=pool,
        app=KvApplication(),
        next_height=lambda: 1,
        committed=lambda _: False,
        enqueue=lambda _txs: None,
    )
    return {LICENSE: admission}


def test_admission_applies_backpressure_to_clients_not_to_peers() -> None:
    verifier = BatchVerifier(threads=1)
    try:
        pool = Mempool(1000, 1 << 30, queue_ms=300, floor_txs=5, clock=Clock())
        channels = _license(verifier, pool)
        raws = [put(i) for i in range(8)]
        results, _ = asyncio.run(admit(raws, CHAIN, TX_BYTES_MAX, channels, all_or_nothing=True))
        statuses = [api.TxStatus.Name(r.status) for r in results]
        assert statuses == ["ACCEPTED"] * 5 + ["MEMPOOL_FULL"] * 3
        more = [put(i) for i in range(100, 108)]
        results, _ = asyncio.run(admit(more, CHAIN, TX_BYTES_MAX, channels, all_or_nothing=False))
        assert {api.TxStatus.Name(r.status) for r in results} == {"ACCEPTED"}
    finally:
        verifier.close()


class BusyStub:
    """A node that turns away every tx but the first of a call, asking for 10 ms."""

    def __init__(self, busy_detail: str = "busy: 5 txs wait, committing 9/s; retry after 10 ms"):
        self.calls: list[list[bytes]] = []
        self.busy_detail = busy_detail

    def SubmitTransactions(self, request: api.SubmitRequest, timeout: float):
        self.calls.append(list(request.txs))
        results = [api.SubmitResult(tx_id=request.txs[0], status=api.ACCEPTED)]
        results += [
            api.SubmitResult(tx_id=raw, status=api.MEMPOOL_FULL, detail=self.busy_detail)
            for raw in request.txs[1:]
        ]
        return api.SubmitResponse(results=results)


def test_the_sdk_resubmits_what_a_busy_node_turned_away_after_the_hinted_pause() -> None:
    from client.txs import submit

    stub = BusyStub()
    raws = [b"a", b"b", b"c"]
    results = submit(stub, raws, timeout_s=5)  # type: ignore[arg-type]
    assert [r.status for r in results] == [api.ACCEPTED] * 3
    assert [r.tx_id for r in results] == raws  # in the caller's order
    assert stub.calls == [[b"a", b"b", b"c"], [b"b", b"c"], [b"c"]]


def test_a_full_mempool_that_is_not_busy_is_answered_as_it_is() -> None:
    from client.txs import submit

    stub = BusyStub(busy_detail="100000 txs, 3000000 bytes")  # a stall: no retry hint
    results = submit(stub, [b"a", b"b"], timeout_s=5)  # type: ignore[arg-type]
    assert [r.status for r in results] == [api.ACCEPTED, api.MEMPOOL_FULL]
    assert len(stub.calls) == 1


def test_stale_hands_out_the_oldest_waiting_txs_and_restarts_their_wait() -> None:
    clock = Clock()
    pool = Mempool(1000, 1 << 30, clock=clock)
    txs = _txs(0, 5)
    for tx in txs[:3]:
        pool.add(tx)
    clock.now += 3.0
    for tx in txs[3:]:
        pool.add(tx)
    assert pool.stale(2.0, 10) == [tx.raw for tx in txs[:3]]  # only those that waited
    assert pool.stale(2.0, 10) == []  # handed out: their wait starts again
    clock.now += 2.5
    assert pool.stale(2.0, 2) == [txs[3].raw, txs[4].raw]  # oldest first, at most 2
    pool.remove([txs[0].tx_id])
    clock.now += 2.5
    assert pool.stale(2.0, 10) == [tx.raw for tx in txs[1:3]] + [txs[3].raw, txs[4].raw]


def test_stale_is_bounded_in_bytes_too_but_hands_out_at_least_one_tx() -> None:
    clock = Clock()
    pool = Mempool(1000, 1 << 30, clock=clock)
    txs = _txs(0, 4)
    for tx in txs:
        pool.add(tx)
    clock.now += 3.0
    two = len(txs[0].raw) + len(txs[1].raw)
    assert pool.stale(2.0, 10, max_bytes=two) == [txs[0].raw, txs[1].raw]
    assert pool.stale(2.0, 10, max_bytes=1) == [txs[2].raw]  # one, however large


def test_a_waiting_tx_is_offered_again_to_the_core_and_to_the_primary() -> None:
    from types import SimpleNamespace

    from node import regossip

    clock = Clock()
    pool = Mempool(1000, 1 << 30, clock=clock)
    txs = _txs(0, 3)
    for tx in txs:
        pool.add(tx)
    offered: list[list[bytes]] = []
    sent: list[tuple[str, list[bytes]]] = []
    primary, me = b"P" * 32, b"M" * 32
    replica = SimpleNamespace(view=3, cfg=SimpleNamespace(primary=lambda v: primary))
    runtime = SimpleNamespace(replica=replica, add_txs=offered.append, regossiped=0)
    ch = SimpleNamespace(admission=SimpleNamespace(mempool=pool), runtime=runtime)
    link = SimpleNamespace(send_txs=lambda c, t: sent.append((c, t)))
    node = SimpleNamespace(links={primary: link}, public_key=me, halted=None)
    assert regossip.regossip_once(node, LICENSE, ch) == 0  # nothing waited long enough
    clock.now += regossip.REGOSSIP_AFTER_S + 0.1
    assert regossip.regossip_once(node, LICENSE, ch) == 3
    raws = [tx.raw for tx in txs]
    assert offered == [raws] and sent == [(LICENSE, raws)] and runtime.regossiped == 3
    node.public_key = primary  # the primary itself offers them to its own core only
    clock.now += regossip.REGOSSIP_AFTER_S + 0.1
    assert regossip.regossip_once(node, LICENSE, ch) == 3
    assert len(offered) == 2 and len(sent) == 1


def test_when_every_channel_is_busy_a_client_call_is_turned_away_before_decoding() -> None:
    verifier = BatchVerifier(threads=1)
    try:
        pool = Mempool(1000, 1 << 30, queue_ms=300, floor_txs=2, clock=Clock())
        channels = _license(verifier, pool)
        for tx in _txs(0, 2):
            pool.add(tx)
        assert pool.saturated()
        unrouted: Counter[str] = Counter()
        calls = [put(50), b"not a tx at all"]
        results, admitted = asyncio.run(
            admit(calls, CHAIN, TX_BYTES_MAX, channels, unrouted, all_or_nothing=True)
        )
        assert admitted == {} and unrouted["MEMPOOL_FULL"] == 2
        assert [r.status for r in results] == [api.MEMPOOL_FULL] * 2  # not even parsed
        assert all("retry after" in r.detail for r in results)
        # a peer's gossip is still admitted, and so is a client's once there is room
        results, _ = asyncio.run(admit([put(51)], CHAIN, TX_BYTES_MAX, channels))
        assert results[0].status == api.ACCEPTED
        pool.remove([tx.tx_id for tx in _txs(0, 2)] + [results[0].tx_id])
        assert not pool.saturated()
        results, _ = asyncio.run(
            admit([put(52)], CHAIN, TX_BYTES_MAX, channels, all_or_nothing=True)
        )
        assert results[0].status == api.ACCEPTED
    finally:
        verifier.close()


def test_a_call_every_channel_turns_away_is_told_the_longest_retry_after() -> None:
    """The hint must be the longest wait in numbers, not the longest text: a channel
    that commits fast (a long rate figure) but waits 50 ms must not hide one that asks
    for 1.7 s, or clients come back 30 times too soon to a saturated node."""
    fast = Mempool(2, 1 << 30, queue_ms=300, floor_txs=2, clock=Clock())
    slow = Mempool(1000, 1 << 30, queue_ms=300, floor_txs=2, clock=Clock())
    fast.rate.add(123_456)
    slow.rate.add(1)
    for pool in (fast, slow):
        for tx in _txs(0, 2):
            pool.add(tx)
        assert pool.saturated()
    assert "retry after 50 ms" in fast.busy_detail()
    assert "retry after 1700 ms" in slow.busy_detail()
    channels = {
        name: ChannelAdmission(
            checker=None,  # type: ignore[arg-type]  # never reached: nothing is decoded
            mempool=pool,
            app=KvApplication(),
            next_height=lambda: 1,
            committed=lambda _: False,
            enqueue=lambda _txs: None,
        )
        for name, pool in (("fast", fast), ("slow", slow))
    }
    results, _ = asyncio.run(admit([put(60)], CHAIN, TX_BYTES_MAX, channels, all_or_nothing=True))
    assert results[0].status == api.MEMPOOL_FULL
    assert "retry after 1700 ms" in results[0].detail


def test_the_oldest_waiting_txs_are_kept_decoded_within_a_count_bound() -> None:
    """Execution reuses them (a parse per tx per node); a flood does not grow them."""
    pool = Mempool(1000, 1 << 30, decoded_max=3)
    txs = _txs(0, 5)
    for tx in txs:
        pool.add(tx)
    assert [pool.decoded(t.tx_id) for t in txs] == [*txs[:3], None, None]
    pool.remove([txs[0].tx_id])
    assert pool.decoded(txs[0].tx_id) is None  # gone with the tx
    pool.add(_txs(5, 1)[0])
    assert pool.decoded(_txs(5, 1)[0].tx_id) is not None  # room again
