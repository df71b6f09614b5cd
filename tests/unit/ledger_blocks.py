"""What the storage and ledger tests share: one channel of n=4 (quorum 3), and real
blocks with real commit certificates, staged and committed as the executor does. The
`store` and `ledger` fixtures (every such test on the in-memory store and on LevelDB)
are in tests/unit/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from consensus.blocks import BlockInfo, make_block
from consensus.certificates import CheckpointCert
from consensus.config import ConsensusConfig
from consensus.hashing import sha256
from consensus.messages import sign, vote
from consensus.persisted import SlotRecord
from protos import api_pb2
from protos import consensus_pb2 as pb
from sim.crypto import make_signers, make_tx
from storage.ledger import ChannelLedger, LedgerBatch
from storage.stores import ByteStore, LevelDBStore, MemoryStore

CHANNEL = "license"
SIGNERS = make_signers(4)
KEYS = tuple(s.public_key for s in SIGNERS)
GENESIS = sha256(b"genesis of the license channel")
CFG = ConsensusConfig(
    channel=CHANNEL,
    validators=KEYS,
    genesis_hash=GENESIS,
    checkpoint_interval_blocks=2,
    log_window_blocks=4,
)


def h8(height: int) -> bytes:
    return height.to_bytes(8, "big")


def open_store(kind: str, path: Path) -> ByteStore:
    return MemoryStore() if kind == "memory" else LevelDBStore(str(path))


def contents(store: ByteStore) -> dict[bytes, bytes]:
    return dict(store.iterate(b""))


# ------------------------------------------------------------------ blocks


@dataclass(frozen=True)
class Built:
    """A block as the executor hands it to the ledger."""

    info: BlockInfo
    certified: pb.CertifiedBlock
    results: api_pb2.BlockResults
    writes: dict[bytes, bytes | None] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return self.info.height

    @property
    def tx_ids(self) -> tuple[bytes, ...]:
        return tuple(sha256(tx) for tx in self.info.txs)


def certify(
    info: BlockInfo, view: int = 0, signers: Iterable[int] = (0, 1, 2)
) -> pb.CertifiedBlock:
    commits = [
        sign(SIGNERS[i], CHANNEL, "commit", vote(view, info.height, info.digest)).to_pb()
        for i in signers
    ]
    return pb.CertifiedBlock(block=info.block, commits=commits)


def build(height: int, parent: bytes, salt: int = 0, writes: dict | None = None) -> Built:
    txs = [make_tx(salt, height * 10 + i) for i in range(2)]
    info = make_block(CFG, height, 0, parent, txs, KEYS[0], 1000 + height)
    results = api_pb2.BlockResults(
        results=[api_pb2.TxResult(code=0), api_pb2.TxResult(code=3, reason="no such key")],
        state_root=sha256(b"root-%d-%d" % (height, salt)),
    )
    default = {b"key-%d" % height: b"value-%d" % height}
    return Built(info, certify(info), results, default if writes is None else writes)


def chain(count: int) -> list[Built]:
    out: list[Built] = []
    for height in range(1, count + 1):
        out.append(build(height, out[-1].info.digest if out else GENESIS))
    return out


def stage(batch: LedgerBatch, built: Built) -> None:
    batch.add_block(
        built.height, built.certified, built.info.digest, built.results, built.writes, built.tx_ids
    )


def append(ledger: ChannelLedger, blocks: Iterable[Built], records: tuple = ()) -> None:
    batch = ledger.batch()
    batch.add_records(records)
    for built in blocks:
        stage(batch, built)
    ledger.commit(batch)


def prepare_votes(info: BlockInfo, view: int) -> tuple[pb.SignedMessage, ...]:
    return tuple(
        sign(SIGNERS[i], CHANNEL, "prepare", vote(view, info.height, info.digest)).to_pb()
        for i in (0, 2, 3)
    )


def slot_records() -> list[SlotRecord]:
    one, two = chain(2)
    other = build(2, one.info.digest, salt=9)
    return [
        SlotRecord(2, 1, two.info.block, -1, None, ()),
        SlotRecord(2, 3, other.info.block, 1, two.info.block, prepare_votes(two.info, 1)),
        SlotRecord(5, -1, None, -1, None, ()),
    ]


def checkpoint_cert(height: int, block_hash: bytes, state_root: bytes) -> CheckpointCert:
    payload = pb.Checkpoint(height=height, block_hash=block_hash, state_root=state_root)
    proof = tuple(sign(SIGNERS[i], CHANNEL, "checkpoint", payload).to_pb() for i in (1, 2, 3))
    return CheckpointCert(height, block_hash, state_root, proof)
