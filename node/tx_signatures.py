"""Transaction signature checks shared by admission and the consensus core.

Both go through the node's verifier, so through the crypto suite the channel's genesis
names; decoding here holds a tx's key and signature to that suite's lengths.

Admission (client submit, peer gossip) verifies batches on the pool and remembers each
valid tx id. The core's synchronous `verify_txs`, asked for every proposed block, then
finds almost every tx in that cache; the runtime pre-verifies the rest of a proposal on
the pool before handing it to the core, so the event loop never verifies in bulk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chains.tx import DecodedTx, TxError, decode_tx, suite_hashing
from consensus.membership import GovernanceTx
from node.governance import read_governance
from node.verifier import BatchVerifier, LruSet
from protos import api_pb2 as api


class NodeTxChecker:
    """consensus.crypto.TxChecker for one channel, backed by the node's verifier."""

    def __init__(
        self, verifier: BatchVerifier, chain_id: str, channel: str, tx_bytes_max: int
    ) -> None:
        self.verifier = verifier
        self.chain_id = chain_id
        self.channel = channel
        self.tx_bytes_max = tx_bytes_max
        # The channel's suite hash (SHA-256 or SM3), bound once: tx ids.
        self.hash = suite_hashing(verifier.suite).hash
        # Ids of valid txs until they commit (`forget`); the bound only matters for txs
        # that never commit (a peer's proposal that lost a view change).
        self.verified_ids = LruSet(100_000)
        # Set by the runtime to the core's recent-committed ids (the checker is built
        # before the Replica that owns them).
        self.committed_recently: Callable[[bytes], bool] = lambda _tid: False

    def tx_id(self, tx: bytes) -> bytes:
        return self.hash(tx)

    def governance(self, tx: bytes) -> GovernanceTx | None:
        # No size limit of this node's config here: the tx is in a committed block, whose
        # txs were checked against the genesis limit, and the verdict must not depend on
        # local settings.
        return read_governance(tx, self.chain_id, self.channel, len(tx))

    def decode(self, raw: bytes) -> DecodedTx:
        tx = decode_tx(raw, self.chain_id, self.tx_bytes_max, self.verifier.suite, self.hash)
        if tx.body.channel != self.channel:
            raise TxError(api.UNKNOWN_CHANNEL, f"channel {tx.body.channel!r}")
        return tx

    async def verify_decoded(self, txs: Sequence[DecodedTx]) -> list[bool]:
        """Batch-verify (on the pool) the txs not already known to be valid."""
        results = [t.tx_id in self.verified_ids for t in txs]
        todo = [i for i, ok in enumerate(results) if not ok]
        if todo:
            items = [(txs[i].signer, txs[i].body_bytes, txs[i].signature) for i in todo]
            verdicts = await self.verifier.verify_batch(items, remember=False)
            for i, ok in zip(todo, verdicts, strict=True):
                results[i] = ok
                if ok:
                    self.verified_ids.add(txs[i].tx_id)
        return results

    async def preverify(self, raws: Sequence[bytes]) -> None:
        """Verify a proposal's unknown txs on the pool so the core's check hits the cache.
        Txs committed recently are skipped: the core refuses a block repeating them before
        checking signatures, and their ids would never be forgotten."""
        decoded = []
        for raw in raws:
            tid = self.hash(raw)
            if tid in self.verified_ids or self.committed_recently(tid):
                continue
            try:
                decoded.append(self.decode(raw))
            except TxError:
                continue
        if decoded:
            await self.verify_decoded(decoded)

    def forget(self, tx_ids: Sequence[bytes]) -> None:
        """Committed txs need no verdict any more: the core and the executor refuse a
        repeat by id, so keeping them would only grow memory with the chain."""
        for tid in tx_ids:
            self.verified_ids.discard(tid)

    def verify_txs(self, txs: Sequence[bytes]) -> list[bool]:
        out = []
        for raw in txs:
            tid = self.hash(raw)
            if tid in self.verified_ids:
                out.append(True)
                continue
            try:
                tx = self.decode(raw)
            except TxError:
                out.append(False)
                continue
            ok = self.verifier.verify(tx.signer, tx.body_bytes, tx.signature)
            if ok:
                self.verified_ids.add(tid)
            out.append(ok)
        return out
