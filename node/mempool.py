"""Admission bookkeeping of one channel: which txs are admitted and not yet committed.

Ordering itself lives in the consensus core's pending queue; the mempool decides what
gets in (duplicates, replays, expiry, bounds in count and bytes) and forgets txs once a
block commits them.

Backpressure. A client's tx waits in the mempool for its turn, so a deep mempool is a
slow answer: at saturation the queue, not consensus, would set the latency (a closed
loop once waited 2 s and more). So a client's tx is admitted only while the txs waiting
would commit within `queue_ms` at the rate this channel has been committing
(`CommitRate`: txs per second over the last few seconds), and never fewer than
`floor_txs` may wait (a channel that has not committed yet, or commits rarely, still
takes work). The txs counted include those in blocks in flight, on purpose: counting
only those not yet in a block was tried, and let about 10 % more through at saturation
but doubled the time in consensus (more work in flight on the same two cores): p50
0.8-1.0 s and p99 1.8-2.1 s against 0.5-0.6 s and 1.0-1.5 s (docs/benchmark.md).
Past that, the answer is MEMPOOL_FULL at once, with a retry-after hint: the network
stays fast for the txs it accepts, and a client learns early to slow down.
Txs gossiped by peers are not held back (their admitting node counted them), only
bounded by `txs_max` and `bytes_max`, which bound memory in a stall.

Nothing admitted is left waiting forever. A tx is gossiped once, at admission; a peer
whose queue overflowed dropped it, and a core whose queue was full skipped it. So the
mempool remembers when each tx came in, and `stale` hands out the ones that have waited
longer than a few seconds, for the node to offer again to its own core and to the
channel's primary (node/regossip.py); each is handed out again only after another wait.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

from chains.tx import DecodedTx
from protos import api_pb2 as api

RATE_WINDOW_S = 3.0


class CommitRate:
    """Txs committed per second over the last RATE_WINDOW_S seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._events: deque[tuple[float, int]] = deque()
        self._total = 0

    def add(self, count: int) -> None:
        now = self.clock()
        self._events.append((now, count))
        self._total += count
        self._trim(now)

    def per_s(self) -> float:
        now = self.clock()
        self._trim(now)
        if not self._events:
            return 0.0
        span = max(now - self._events[0][0], 1.0)  # a burst right after idling is not a rate
        return self._total / span

    def _trim(self, now: float) -> None:
        while self._events and self._events[0][0] < now - RATE_WINDOW_S:
            self._total -= self._events.popleft()[1]


# Waiting txs kept decoded per channel (about 4.5 MiB at 4,096): more than a saturated
# channel holds under backpressure (mempool_queue_ms of commits, a few blocks).
DECODED_TXS_MAX = 4096


class Mempool:
    def __init__(
        self,
        txs_max: int,
        bytes_max: int,
        queue_ms: int = 0,
        floor_txs: int = 0,
        clock: Callable[[], float] = time.monotonic,
        decoded_max: int = DECODED_TXS_MAX,
    ) -> None:
        self.txs_max = txs_max
        self.bytes_max = bytes_max
        self.queue_ms = queue_ms  # 0: no backpressure beyond the bounds
        self.floor_txs = floor_txs
        self.rate = CommitRate(clock)
        self.clock = clock
        # tx id -> (raw tx, when admitted or last handed out); insertion order is age order
        self._txs: dict[bytes, tuple[bytes, float]] = {}
        # The oldest waiting txs also as admission decoded them (about 1.1 KiB each, 4.5
        # times a 240-byte tx), so that their blocks' execution does not parse them again;
        # bounded in count, since a gossip flood may fill the mempool far beyond what a
        # block takes. Txs beyond it are parsed again when executed.
        self._decoded: dict[bytes, DecodedTx] = {}
        self.decoded_max = decoded_max
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._txs)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self._txs

    def decoded(self, tx_id: bytes) -> DecodedTx | None:
        """The tx as admission decoded it, if it waits here and was kept decoded."""
        return self._decoded.get(tx_id)

    def raw(self, tx_id: bytes) -> bytes | None:
        """The admitted tx with this id, as received (a compact block is rebuilt from these)."""
        held = self._txs.get(tx_id)
        return None if held is None else held[0]

    def client_limit(self) -> int:
        """How many txs may wait before a client's tx is turned away."""
        if not self.queue_ms:
            return self.txs_max
        paced = int(self.rate.per_s() * self.queue_ms / 1000)
        return min(self.txs_max, max(self.floor_txs, paced))

    def check(
        self,
        tx: DecodedTx,
        next_height: int,
        committed: Callable[[bytes], bool],
        client: bool = False,
    ) -> tuple[int, str] | None:
        """Why `tx` cannot be admitted now, as (TxStatus, detail), or None if it can.
        `client`: a client's tx (backpressure applies), not a peer's gossip."""
        if tx.tx_id in self._txs:
            return api.DUPLICATE, "already in the mempool"  # as admission.IN_MEMPOOL
        if tx.body.valid_until_height and tx.body.valid_until_height < next_height:
            return api.EXPIRED, f"valid until {tx.body.valid_until_height} < {next_height}"
        if committed(tx.tx_id):
            return api.ALREADY_COMMITTED, "already in a block"
        waiting = len(self._txs)
        if waiting >= self.txs_max or self.bytes + len(tx.raw) > self.bytes_max:
            return api.MEMPOOL_FULL, f"{waiting} txs, {self.bytes} bytes"
        if client and waiting >= self.client_limit():
            return api.MEMPOOL_FULL, self.busy_detail()
        return None

    def saturated(self) -> bool:
        """A client's tx would be turned away now (backpressure on)."""
        return bool(self.queue_ms) and len(self._txs) >= self.client_limit()

    def retry_after_ms(self) -> int:
        """When a turned-away client should try again: once the txs waiting beyond
        `queue_ms` of commits have committed (at least 50 ms)."""
        waiting, rate = len(self._txs), self.rate.per_s()
        wait_ms = int(1000 * waiting / rate) if rate else self.queue_ms
        return max(wait_ms - self.queue_ms, 50)

    def busy_detail(self) -> str:
        """Why a client's tx is turned away, and when to try again."""
        return (
            f"busy: {len(self._txs)} txs wait, committing {self.rate.per_s():.0f}/s; "
            f"retry after {self.retry_after_ms()} ms"
        )

    def add(self, tx: DecodedTx) -> None:
        self._txs[tx.tx_id] = (tx.raw, self.clock())
        if len(self._decoded) < self.decoded_max:
            self._decoded[tx.tx_id] = tx
        self.bytes += len(tx.raw)

    def stale(self, older_than_s: float, max_count: int, max_bytes: int = 1 << 62) -> list[bytes]:
        """Up to `max_count` txs and `max_bytes` bytes (at least one tx), oldest first,
        that have waited longer than `older_than_s` since they came in or were last handed
        out; handing one out restarts its wait."""
        cutoff = self.clock() - older_than_s
        out: list[tuple[bytes, bytes]] = []
        size = 0
        for tid, (raw, since) in self._txs.items():
            if since > cutoff or len(out) >= max_count or (out and size + len(raw) > max_bytes):
                break
            out.append((tid, raw))
            size += len(raw)
        now = self.clock()
        for tid, raw in out:
            del self._txs[tid]  # to the end: the age order stays the dict's order
            self._txs[tid] = (raw, now)
        return [raw for _, raw in out]

    def remove(self, tx_ids: Iterable[bytes]) -> None:
        """Forget a block's committed txs, and count them into the commit rate (an empty
        id is a repeat, which commits nothing)."""
        committed = 0
        for tid in tx_ids:
            committed += bool(tid)
            held = self._txs.pop(tid, None)
            if held is not None:
                self.bytes -= len(held[0])
                self._decoded.pop(tid, None)
        self.rate.add(committed)
