"""Admission bookkeeping of one channel: which txs are admitted and not yet committed.

Ordering itself lives in the consensus core's pending queue; the mempool decides what
gets in (duplicates, replays, expiry, bounds in count and bytes) and forgets txs once a
block commits them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from chains.tx import DecodedTx
from protos import api_pb2 as api


class Mempool:
    def __init__(self, txs_max: int, bytes_max: int) -> None:
        self.txs_max = txs_max
        self.bytes_max = bytes_max
        self._sizes: dict[bytes, int] = {}
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._sizes)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self._sizes

    def check(
        self, tx: DecodedTx, next_height: int, committed: Callable[[bytes], bool]
    ) -> tuple[int, str] | None:
        """Why `tx` cannot be admitted now, as (TxStatus, detail), or None if it can."""
        if tx.tx_id in self._sizes:
            return api.DUPLICATE, "already in the mempool"
        if tx.body.valid_until_height and tx.body.valid_until_height < next_height:
            return api.EXPIRED, f"valid until {tx.body.valid_until_height} < {next_height}"
        if committed(tx.tx_id):
            return api.ALREADY_COMMITTED, "already in a block"
        if len(self._sizes) >= self.txs_max or self.bytes + len(tx.raw) > self.bytes_max:
            return api.MEMPOOL_FULL, f"{len(self._sizes)} txs, {self.bytes} bytes"
        return None

    def add(self, tx: DecodedTx) -> None:
        self._sizes[tx.tx_id] = len(tx.raw)
        self.bytes += len(tx.raw)

    def remove(self, tx_ids: Iterable[bytes]) -> None:
        for tid in tx_ids:
            size = self._sizes.pop(tid, None)
            if size is not None:
                self.bytes -= size
