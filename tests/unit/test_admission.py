"""Admission of client txs (node.admission.admit) over two channels with real checkers,
mempools and the KV application: one status per tx in input order, and the admitted txs
queued once per channel per batch.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import nacl.signing
import pytest

from chains.kv import KvApplication
from chains.tx import decode_tx, encode_tx
from client.txs import kv_put_tx
from node.admission import ChannelAdmission, admit
from node.mempool import Mempool
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier
from protos import api_pb2 as api

CHAIN = "govchain-test"
LICENSE, CATALOG = "license", "catalog"
TX_BYTES_MAX = 2048
CLIENT = nacl.signing.SigningKey(bytes(range(32)))


@dataclass
class Node:
    """Two channels' admission state and what admission asked each to enqueue."""

    verifier: BatchVerifier
    channels: dict[str, ChannelAdmission] = field(default_factory=dict)
    enqueued: dict[str, list[list[bytes]]] = field(default_factory=dict)
    committed: set[bytes] = field(default_factory=set)
    next_height: int = 1

    def add_channel(self, name: str, txs_max: int = 100, bytes_max: int = 1 << 20) -> None:
        calls: list[list[bytes]] = []
        self.enqueued[name] = calls
        self.channels[name] = ChannelAdmission(
            checker=NodeTxChecker(self.verifier, CHAIN, name, TX_BYTES_MAX),
            mempool=Mempool(txs_max, bytes_max),
            app=KvApplication(),
            next_height=lambda: self.next_height,
            committed=lambda tid: tid in self.committed,
            enqueue=lambda txs: calls.append(list(txs)),
        )

    def submit(self, raws: list[bytes]) -> tuple[list[api.SubmitResult], dict[str, list[bytes]]]:
        return asyncio.run(admit(raws, CHAIN, TX_BYTES_MAX, self.channels))

    def statuses(self, raws: list[bytes]) -> list[str]:
        results, _ = self.submit(raws)
        return [api.TxStatus.Name(r.status) for r in results]

    def mempool(self, name: str) -> Mempool:
        return self.channels[name].mempool


@pytest.fixture
def verifier() -> Iterator[BatchVerifier]:
    v = BatchVerifier(threads=2, chunk_items=3)
    yield v
    v.close()


@pytest.fixture
def node(verifier: BatchVerifier) -> Node:
    n = Node(verifier)
    n.add_channel(LICENSE)
    n.add_channel(CATALOG)
    return n


def put(nonce: int, channel: str = LICENSE, chain: str = CHAIN, valid_until: int = 0) -> bytes:
    return kv_put_tx(
        CLIENT, chain, channel, b"k%d" % nonce, b"v", nonce=nonce, valid_until_height=valid_until
    )


def tx_of_type(kind: str, nonce: int = 0) -> bytes:
    body = api.TxBody(chain_id=CHAIN, channel=LICENSE, type=kind, nonce=nonce)
    return encode_tx(body, CLIENT)


def flipped_signature(raw: bytes) -> bytes:
    env = api.TxEnvelope.FromString(raw)
    env.signature = bytes([env.signature[0] ^ 0x01]) + env.signature[1:]
    return env.SerializeToString(deterministic=True)


def tid(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


def test_every_status_is_reported_per_tx_in_input_order(node: Node) -> None:
    node.next_height = 5
    in_mempool, committed, accepted = put(1), put(2), put(3)
    node.submit([in_mempool])
    node.committed.add(tid(committed))
    raws = [
        accepted,
        accepted,
        in_mempool,
        committed,
        flipped_signature(put(4)),
        put(5, channel="service"),
        put(6, valid_until=4),
        b"x" * (TX_BYTES_MAX + 1),
        b"\xff not an envelope",
        put(7, chain="another-chain"),
        tx_of_type("kv.frobnicate"),
        put(8, channel=CATALOG, valid_until=5),
    ]
    results, admitted = node.submit(raws)
    assert [api.TxStatus.Name(r.status) for r in results] == [
        "ACCEPTED",
        "DUPLICATE",
        "DUPLICATE",
        "ALREADY_COMMITTED",
        "BAD_SIGNATURE",
        "UNKNOWN_CHANNEL",
        "EXPIRED",
        "TOO_LARGE",
        "MALFORMED",
        "WRONG_CHAIN",
        "REJECTED",
        "ACCEPTED",
    ]
    assert [r.tx_id for r in results] == [tid(raw) for raw in raws]
    assert admitted == {LICENSE: [accepted], CATALOG: [raws[-1]]}


def test_admitted_txs_are_enqueued_once_per_channel_per_batch_in_input_order(
    node: Node,
) -> None:
    raws = [put(1), put(2, channel=CATALOG), put(3), b"junk", put(4, channel=CATALOG), put(5)]
    _, admitted = node.submit(raws)
    assert node.enqueued[LICENSE] == [[raws[0], raws[2], raws[5]]]
    assert node.enqueued[CATALOG] == [[raws[1], raws[4]]]
    assert admitted == {LICENSE: [raws[0], raws[2], raws[5]], CATALOG: [raws[1], raws[4]]}
    node.submit([put(6)])
    assert node.enqueued[LICENSE] == [[raws[0], raws[2], raws[5]], [put(6)]]
    assert len(node.enqueued[CATALOG]) == 1


def test_batch_admitting_nothing_enqueues_nothing(node: Node) -> None:
    results, admitted = node.submit([b"junk", flipped_signature(put(1))])
    assert [r.status for r in results] == [api.MALFORMED, api.BAD_SIGNATURE]
    assert admitted == {}
    assert node.enqueued == {LICENSE: [], CATALOG: []}


def test_same_tx_twice_in_one_batch_is_admitted_once(node: Node) -> None:
    raw = put(1)
    assert node.statuses([raw, raw]) == ["ACCEPTED", "DUPLICATE"]
    assert len(node.mempool(LICENSE)) == 1
    assert node.enqueued[LICENSE] == [[raw]]


def test_tx_already_in_the_mempool_is_a_duplicate(node: Node) -> None:
    raw = put(1)
    assert node.statuses([raw]) == ["ACCEPTED"]
    assert node.statuses([raw]) == ["DUPLICATE"]
    assert len(node.enqueued[LICENSE]) == 1
    assert len(node.mempool(LICENSE)) == 1


def test_a_repeat_of_a_waiting_tx_is_answered_without_being_parsed(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-gossip and retrying clients resend txs a node holds: each costs a hash and a
    lookup, not a decode and the checks (an overloaded node re-gossiped to would otherwise
    spend more time the slower it gets)."""
    import node.admission as admission

    raw = put(1)
    assert node.statuses([raw]) == ["ACCEPTED"]
    decoded: list[bytes] = []
    real = admission.decode_tx
    monkeypatch.setattr(
        admission, "decode_tx", lambda r, *a, **k: decoded.append(r) or real(r, *a, **k)
    )
    results, _ = node.submit([raw, put(2)])
    assert [api.TxStatus.Name(r.status) for r in results] == ["DUPLICATE", "ACCEPTED"]
    assert results[0].tx_id == tid(raw) and results[0].detail == "already in the mempool"
    assert decoded == [put(2)]  # only the new tx was parsed
    assert node.channels[LICENSE].counts["DUPLICATE"] == 1  # counted on its channel


def test_committed_tx_is_refused_as_already_committed(node: Node) -> None:
    raw = put(1)
    node.committed.add(tid(raw))
    assert node.statuses([raw]) == ["ALREADY_COMMITTED"]
    assert tid(raw) not in node.mempool(LICENSE)


def test_bad_signature_fails_only_its_own_tx(node: Node) -> None:
    good_before, good_after = put(1), put(3)
    bad = flipped_signature(put(2))
    assert node.statuses([good_before, bad, good_after]) == [
        "ACCEPTED",
        "BAD_SIGNATURE",
        "ACCEPTED",
    ]
    assert tid(bad) not in node.mempool(LICENSE)
    assert node.enqueued[LICENSE] == [[good_before, good_after]]


def test_tx_for_a_channel_this_node_does_not_serve_is_unknown_channel(node: Node) -> None:
    results, _ = node.submit([put(1, channel="authorization")])
    assert results[0].status == api.UNKNOWN_CHANNEL
    assert "authorization" in results[0].detail


@pytest.mark.parametrize(
    ("valid_until", "status"),
    [(0, api.ACCEPTED), (4, api.EXPIRED), (5, api.ACCEPTED), (6, api.ACCEPTED)],
)
def test_expiry_is_against_the_next_block_height(node: Node, valid_until: int, status: int) -> None:
    node.next_height = 5
    results, _ = node.submit([put(1, valid_until=valid_until)])
    assert results[0].status == status


def test_full_mempool_by_count_refuses_new_txs(verifier: BatchVerifier) -> None:
    node = Node(verifier)
    node.add_channel(LICENSE, txs_max=1)
    assert node.statuses([put(1)]) == ["ACCEPTED"]
    assert node.statuses([put(2)]) == ["MEMPOOL_FULL"]
    assert len(node.mempool(LICENSE)) == 1


def test_full_mempool_by_bytes_refuses_new_txs(verifier: BatchVerifier) -> None:
    first = put(1)
    node = Node(verifier)
    node.add_channel(LICENSE, bytes_max=len(first) + 10)
    assert node.statuses([first]) == ["ACCEPTED"]
    assert node.statuses([put(2)]) == ["MEMPOOL_FULL"]
    assert node.mempool(LICENSE).bytes == len(first)


def test_one_batch_cannot_overfill_the_mempool(verifier: BatchVerifier) -> None:
    node = Node(verifier)
    node.add_channel(LICENSE, txs_max=2)
    assert node.statuses([put(1), put(2), put(3)]) == ["ACCEPTED", "ACCEPTED", "MEMPOOL_FULL"]
    assert len(node.mempool(LICENSE)) == 2
    first = put(10)
    node = Node(verifier)
    node.add_channel(LICENSE, bytes_max=len(first) + 10)
    assert node.statuses([first, put(11)]) == ["ACCEPTED", "MEMPOOL_FULL"]


def test_removing_committed_txs_frees_mempool_room(verifier: BatchVerifier) -> None:
    node = Node(verifier)
    node.add_channel(LICENSE, txs_max=1)
    first = put(1)
    node.submit([first])
    node.mempool(LICENSE).remove([tid(first)])
    assert node.statuses([put(2)]) == ["ACCEPTED"]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        pytest.param(b"\x0a" * (TX_BYTES_MAX + 1), api.TOO_LARGE, id="too-large"),
        pytest.param(b"\xff\xfe\xfd", api.MALFORMED, id="garbage"),
        pytest.param(
            api.TxEnvelope(
                body=b"\x0a\x01x", signature=bytes(64), signer=bytes(31)
            ).SerializeToString(),
            api.MALFORMED,
            id="short-signer",
        ),
        pytest.param(put(1, chain="another-chain"), api.WRONG_CHAIN, id="wrong-chain"),
        pytest.param(tx_of_type("kv.frobnicate"), api.REJECTED, id="unknown-type"),
    ],
)
def test_refused_txs_never_reach_the_mempool(node: Node, raw: bytes, status: int) -> None:
    results, admitted = node.submit([raw])
    assert results[0].status == status
    assert results[0].tx_id == tid(raw)
    assert results[0].detail
    assert admitted == {}
    assert len(node.mempool(LICENSE)) == 0 and len(node.mempool(CATALOG)) == 0


def test_refused_txs_are_not_signature_checked(node: Node, verifier: BatchVerifier) -> None:
    node.committed.add(tid(put(2)))
    node.submit([tx_of_type("kv.frobnicate"), put(2), put(3, chain="x"), put(4)])
    assert verifier.verified_count == 1


def test_mempool_counts_txs_and_bytes_and_forgets_removed_ones(node: Node) -> None:
    raws = [put(1), put(2), put(3)]
    node.submit(raws)
    pool = node.mempool(LICENSE)
    assert len(pool) == 3
    assert pool.bytes == sum(len(r) for r in raws)
    pool.remove([tid(raws[0]), tid(raws[2]), b"\x00" * 32])
    assert len(pool) == 1
    assert pool.bytes == len(raws[1])
    assert tid(raws[1]) in pool and tid(raws[0]) not in pool
    pool.remove([tid(raws[0])])  # removing twice changes nothing
    assert (len(pool), pool.bytes) == (1, len(raws[1]))


def test_removed_tx_that_was_not_committed_can_be_admitted_again(node: Node) -> None:
    raw = put(1)
    node.submit([raw])
    node.mempool(LICENSE).remove([tid(raw)])
    assert node.statuses([raw]) == ["ACCEPTED"]
    assert len(node.enqueued[LICENSE]) == 2


def test_mempool_check_reports_why_directly() -> None:
    pool = Mempool(txs_max=10, bytes_max=1 << 20)
    tx = decode_tx(put(1, valid_until=3), CHAIN, TX_BYTES_MAX)
    assert pool.check(tx, 3, lambda _: False) is None
    assert pool.check(tx, 4, lambda _: False) == (api.EXPIRED, "valid until 3 < 4")
    refused = pool.check(tx, 3, lambda t: t == tx.tx_id)
    assert refused is not None and refused[0] == api.ALREADY_COMMITTED
    pool.add(tx)
    refused = pool.check(tx, 3, lambda _: False)
    assert refused is not None and refused[0] == api.DUPLICATE


def test_a_tx_committed_while_it_was_verified_is_refused_and_only_then_looked_up_again(
    node: Node,
) -> None:
    """The re-check after verification asks the ledger again only if a block committed
    since the screen (a read per tx saved at every node otherwise)."""
    lookups: list[bytes] = []
    admission = node.channels[LICENSE]
    admission.committed = lambda t: lookups.append(t) or t in node.committed
    real = admission.checker.verify_decoded
    raw = put(1)

    async def commit_meanwhile(txs):  # its block commits while the signatures are checked
        node.committed.add(tid(raw))
        node.next_height += 1
        return await real(txs)

    admission.checker.verify_decoded = commit_meanwhile  # type: ignore[method-assign]
    assert node.statuses([raw]) == ["ALREADY_COMMITTED"]
    assert lookups == [tid(raw), tid(raw)]  # at the screen, and again: the height moved
    admission.checker.verify_decoded = real  # type: ignore[method-assign]
    lookups.clear()
    assert node.statuses([put(2)]) == ["ACCEPTED"]
    assert lookups == [tid(put(2))]  # no block meanwhile: looked up once
