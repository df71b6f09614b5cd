"""Block execution (node.executor) through the KV application (chains.kv): per-tx result
codes in block order, writes visible to later txs of the block, repeats refused, and a
state root that chains the previous root, the height and the block's writes. The last
tests run the executor over a ChannelLedger as the runtime does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import nacl.signing
import pytest

from chains.codes import OK
from chains.kv import BAD_PAYLOAD, UNKNOWN_TYPE, KvApplication
from chains.tx import encode_tx
from client.txs import kv_put_tx
from consensus.blocks import BlockInfo, make_block
from consensus.config import ConsensusConfig
from consensus.hashing import sha256
from consensus.messages import sign, vote
from node.executor import (
    DUPLICATE,
    EXPIRED,
    MALFORMED,
    NOT_PERMITTED,
    WRONG_CHANNEL,
    BlockOutcome,
    Executor,
    state_root,
)
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from protos import kv_pb2
from sim.crypto import make_signers
from storage.ledger import TX_PREFIX, ChannelLedger, LedgerBatch
from storage.stores import MemoryStore

CHAIN = "govchain-test"
CHANNEL = "license"
TX_BYTES_MAX = 64 << 10
SIGNERS = make_signers(4)
KEYS = tuple(s.public_key for s in SIGNERS)
CFG = ConsensusConfig(channel=CHANNEL, validators=KEYS)
GENESIS_HASH = sha256(b"genesis of " + CHANNEL.encode())
PREVIOUS_ROOT = sha256(b"previous state root")
CLIENT = nacl.signing.SigningKey(bytes(range(32)))

_nonces = iter(range(1, 1_000_000))


def put(
    key: bytes,
    value: bytes,
    channel: str = CHANNEL,
    chain: str = CHAIN,
    valid_until: int = 0,
) -> bytes:
    return kv_put_tx(
        CLIENT, chain, channel, key, value, nonce=next(_nonces), valid_until_height=valid_until
    )


def tx(kind: str, payload: bytes) -> bytes:
    body = api.TxBody(
        chain_id=CHAIN, channel=CHANNEL, type=kind, payload=payload, nonce=next(_nonces)
    )
    return encode_tx(body, CLIENT)


def delete(key: bytes) -> bytes:
    return tx("kv.delete", kv_pb2.KvDelete(key=key).SerializeToString())


def certify(info: BlockInfo, view: int = 0) -> pb.CertifiedBlock:
    commits = [
        sign(SIGNERS[i], CHANNEL, "commit", vote(view, info.height, info.digest)).to_pb()
        for i in (0, 1, 2)
    ]
    return pb.CertifiedBlock(block=info.block, commits=commits)


def block(txs: Sequence[bytes], height: int = 1, parent: bytes = GENESIS_HASH) -> BlockInfo:
    return make_block(CFG, height, 0, parent, txs, KEYS[0], 1000 + height)


def executor() -> Executor:
    return Executor(KvApplication(), CHAIN, CHANNEL, TX_BYTES_MAX)


def never(_: bytes) -> bool:
    return False


def run(
    txs: Sequence[bytes],
    state: dict[bytes, bytes] | None = None,
    height: int = 1,
    previous_root: bytes = PREVIOUS_ROOT,
    committed: Callable[[bytes], bool] = never,
) -> BlockOutcome:
    view = dict(state or {})
    certified = certify(block(txs, height))
    return executor().execute(certified, height, previous_root, view.get, committed)


def codes(outcome: BlockOutcome) -> list[int]:
    return [r.code for r in outcome.results.results]


def tid(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


# ------------------------------------------------------------------ per-tx results


def test_puts_and_deletes_apply_in_block_order_and_later_txs_see_earlier_writes() -> None:
    txs = [
        put(b"a", b"1"),
        put(b"a", b"2"),
        delete(b"old"),
        delete(b"a"),  # sees the put above
        delete(b"a"),  # sees the delete above: no such key
        put(b"b", b"x"),
    ]
    outcome = run(txs, state={b"old": b"0"})
    assert codes(outcome) == [OK, OK, OK, OK, BAD_PAYLOAD, OK]
    assert outcome.writes == {b"a": None, b"old": None, b"b": b"x"}
    assert outcome.tx_ids == [tid(t) for t in txs]


def test_last_write_of_a_key_in_a_block_wins() -> None:
    outcome = run([put(b"k", b"1"), put(b"k", b"2"), put(b"k", b"3")])
    assert outcome.writes == {b"k": b"3"}


def test_delete_of_a_key_never_written_is_a_bad_payload() -> None:
    outcome = run([delete(b"missing")], state={b"other": b"1"})
    assert codes(outcome) == [BAD_PAYLOAD]
    assert outcome.writes == {}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(lambda: put(b"", b"v"), id="empty-key"),
        pytest.param(lambda: put(b"k" * 257, b"v"), id="key-too-long"),
        pytest.param(lambda: put(b"k", b"v" * ((16 << 10) + 1)), id="value-too-large"),
        pytest.param(lambda: tx("kv.put", b"\xff\xff"), id="put-payload-garbage"),
        pytest.param(lambda: tx("kv.delete", b"\xff\xff"), id="delete-payload-garbage"),
    ],
)
def test_bad_payload_is_code_100_and_writes_nothing(raw: Callable[[], bytes]) -> None:
    outcome = run([raw()])
    assert codes(outcome) == [BAD_PAYLOAD] == [100]
    assert outcome.results.results[0].reason
    assert outcome.writes == {}


MEMBERSHIP = b"\x00gov/membership"
POLICY = b"\x00gov/write_policy"


@pytest.mark.parametrize("key", [MEMBERSHIP, POLICY, b"\x00", b"\x00anything"])
def test_keys_beginning_with_nul_are_the_nodes_and_no_tx_writes_them(key: bytes) -> None:
    """The validator set and write policy a node loads at restart live under 0x00 keys; a
    kv tx that could put or delete them would let any signer forge either."""
    outcome = run([put(key, b"forged"), delete(key)], state={key: b"the node's"})
    assert codes(outcome) == [BAD_PAYLOAD, BAD_PAYLOAD]
    assert all("reserved" in r.reason for r in outcome.results.results)
    assert outcome.writes == {}


class _WritesReserved(KvApplication):
    """An application with a bug: it writes under the node's reserved prefix."""

    def apply(self, state, tx, ctx):  # type: ignore[no-untyped-def]
        from chains.base import Outcome

        return Outcome(OK, writes={MEMBERSHIP: b"forged", b"mine": b"1"})


def test_the_executor_refuses_any_application_write_under_the_reserved_prefix() -> None:
    """Defence in depth: whatever an application returns, the executor keeps 0x00 keys
    for the node (governance writes them, never an application)."""
    ex = executor()
    ex.app = _WritesReserved()
    outcome = ex.execute(certify(block([put(b"k", b"v")], 1)), 1, PREVIOUS_ROOT, {}.get, never)
    assert codes(outcome) == [NOT_PERMITTED]
    assert "reserved" in outcome.results.results[0].reason
    assert outcome.writes == {}


def test_key_and_value_at_their_limits_are_accepted() -> None:
    outcome = run([put(b"k" * 256, b"v" * (16 << 10))])
    assert codes(outcome) == [OK]


def test_unknown_type_is_refused_by_the_application() -> None:
    outcome = run([tx("kv.frobnicate", b""), put(b"a", b"1")])
    assert codes(outcome) == [UNKNOWN_TYPE, OK]
    assert outcome.writes == {b"a": b"1"}


@pytest.mark.parametrize(("valid_until", "code"), [(0, OK), (4, EXPIRED), (5, OK), (9, OK)])
def test_tx_expires_when_valid_until_height_is_below_the_block_height(
    valid_until: int, code: int
) -> None:
    outcome = run([put(b"a", b"1", valid_until=valid_until)], height=5)
    assert codes(outcome) == [code]
    assert outcome.writes == ({} if code else {b"a": b"1"})


def test_expired_is_code_3_wrong_channel_2_malformed_1_duplicate_4() -> None:
    assert (MALFORMED, WRONG_CHANNEL, EXPIRED, DUPLICATE) == (1, 2, 3, 4)


def test_tx_for_another_channel_is_wrong_channel() -> None:
    outcome = run([put(b"a", b"1", channel="catalog")])
    assert codes(outcome) == [WRONG_CHANNEL]
    assert outcome.writes == {}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xff not an envelope", id="garbage"),
        pytest.param(
            api.TxEnvelope(body=b"\x0a\x01x", signature=bytes(64)).SerializeToString(),
            id="no-signer",
        ),
        pytest.param(put(b"a", b"1", chain="another-chain"), id="wrong-chain"),
        pytest.param(b"\x0a" * (TX_BYTES_MAX + 1), id="too-large"),
    ],
)
def test_txs_that_do_not_decode_are_malformed(raw: bytes) -> None:
    outcome = run([raw, put(b"b", b"2")])
    assert codes(outcome) == [MALFORMED, OK]
    assert outcome.writes == {b"b": b"2"}
    assert outcome.tx_ids[0] == tid(raw)  # it keeps its place and is indexed


def test_repeat_of_a_tx_in_the_same_block_is_a_duplicate_and_changes_nothing() -> None:
    first, remove = put(b"a", b"1"), delete(b"a")
    outcome = run([first, remove, first])
    assert codes(outcome) == [OK, OK, DUPLICATE]
    assert outcome.results.results[2].reason
    assert outcome.tx_ids == [tid(first), tid(remove), b""]
    assert outcome.writes == {b"a": None}  # the repeated put did not run again


def test_repeat_of_a_failed_tx_in_the_same_block_is_still_a_duplicate() -> None:
    bad = delete(b"nothing")
    outcome = run([bad, put(b"nothing", b"1"), bad])
    assert codes(outcome) == [BAD_PAYLOAD, OK, DUPLICATE]
    assert outcome.tx_ids[2] == b""
    assert outcome.writes == {b"nothing": b"1"}


def test_tx_already_committed_is_a_duplicate_and_changes_nothing() -> None:
    old, new = put(b"a", b"new value"), put(b"b", b"2")
    outcome = run([old, new], state={b"a": b"1"}, committed=lambda t: t == tid(old))
    assert codes(outcome) == [DUPLICATE, OK]
    assert outcome.results.results[0].reason
    assert outcome.tx_ids == [b"", tid(new)]
    assert outcome.writes == {b"b": b"2"}


# ------------------------------------------------------------------ state root


def test_block_of_only_rejected_txs_writes_nothing_and_root_covers_no_writes() -> None:
    state = {b"a": b"1"}
    txs = [
        delete(b"missing"),
        put(b"a", b"2", channel="catalog"),
        put(b"a", b"3", valid_until=1),
        tx("kv.frobnicate", b""),
        b"junk",
    ]
    outcome = run(txs, state=state, height=2)
    assert all(code != OK for code in codes(outcome))
    assert outcome.writes == {}
    assert state == {b"a": b"1"}
    assert outcome.results.state_root == state_root(
        PREVIOUS_ROOT, 2, {}, state_sum=outcome.state_sum
    )
    assert outcome.state_sum != bytes(len(outcome.state_sum))  # the txs are indexed
    assert outcome.results.state_root != PREVIOUS_ROOT  # the height still moves the root


def test_state_root_is_deterministic_for_equal_inputs() -> None:
    txs = [put(b"a", b"1"), delete(b"old"), put(b"b", b"2")]
    first = run(txs, state={b"old": b"x"}, height=3)
    again = run(txs, state={b"old": b"x"}, height=3)
    assert first.results.state_root == again.results.state_root
    assert first.results == again.results
    assert first.results.state_root == state_root(
        PREVIOUS_ROOT, 3, {b"a": b"1", b"old": None, b"b": b"2"}, state_sum=first.state_sum
    )


def test_history_root_depends_only_on_the_writes_the_state_root_also_on_the_txs() -> None:
    one = run([put(b"a", b"1"), put(b"b", b"2")])
    other = run([put(b"b", b"2"), put(b"a", b"0"), put(b"a", b"1"), delete(b"zzz")])
    assert one.writes == other.writes
    assert one.history_root == other.history_root
    # other txs were committed: the replay index differs, and the state sum covers it
    assert one.state_sum != other.state_sum
    assert one.results.state_root != other.results.state_root


def test_state_root_depends_on_previous_root_height_and_writes() -> None:
    writes: dict[bytes, bytes | None] = {b"a": b"1"}
    base = state_root(PREVIOUS_ROOT, 1, writes)
    assert state_root(PREVIOUS_ROOT, 1, dict(writes)) == base
    assert state_root(sha256(b"another root"), 1, writes) != base
    assert state_root(PREVIOUS_ROOT, 2, writes) != base
    assert state_root(PREVIOUS_ROOT, 1, {b"a": b"2"}) != base
    assert state_root(PREVIOUS_ROOT, 1, {b"b": b"1"}) != base
    assert state_root(PREVIOUS_ROOT, 1, {b"a": b"1", b"b": b"1"}) != base
    assert state_root(PREVIOUS_ROOT, 1, {}) != base


def test_state_root_tells_an_empty_value_from_a_delete_and_keys_from_values() -> None:
    assert state_root(PREVIOUS_ROOT, 1, {b"a": b""}) != state_root(PREVIOUS_ROOT, 1, {b"a": None})
    assert state_root(PREVIOUS_ROOT, 1, {b"ab": b"c"}) != state_root(
        PREVIOUS_ROOT, 1, {b"a": b"bc"}
    )


def test_executed_block_root_changes_with_previous_root_and_height() -> None:
    txs = [put(b"a", b"1")]
    base = run(txs).results.state_root
    assert run(txs, previous_root=sha256(b"x")).results.state_root != base
    assert run(txs, height=2).results.state_root != base


# ------------------------------------------------------------------ through the ledger


def committed_in(ledger: ChannelLedger, batch: LedgerBatch) -> Callable[[bytes], bool]:
    """As the runtime asks it: indexed in this uncommitted batch or in the ledger."""
    staged = batch.staged
    return lambda t: staged.get(TX_PREFIX + t) is not None or ledger.tx_location(t) is not None


def execute_into(
    ledger: ChannelLedger, batch: LedgerBatch, info: BlockInfo
) -> tuple[BlockOutcome, pb.CertifiedBlock]:
    certified = certify(info)
    outcome = executor().execute(
        certified,
        info.height,
        batch.tip.state_root,
        ledger.state_view(batch).get,
        committed_in(ledger, batch),
        previous_sum=batch.tip.state_sum,
    )
    batch.add_block(
        info.height,
        certified,
        info.digest,
        outcome.results,
        outcome.writes,
        outcome.tx_ids,
        outcome.state_sum,
        outcome.history_root,
    )
    return outcome, certified


def test_two_blocks_in_one_ledger_batch_then_state_and_tx_reads() -> None:
    ledger = ChannelLedger(MemoryStore(), CHANNEL, GENESIS_HASH)
    batch = ledger.batch()
    put_a, put_b = put(b"a", b"1"), put(b"b", b"2")
    info1 = block([put_a, put_b], height=1)
    out1, _ = execute_into(ledger, batch, info1)
    assert codes(out1) == [OK, OK]

    del_a, put_c = delete(b"a"), put(b"c", b"3")
    info2 = block([del_a, put_a, put_c], height=2, parent=info1.digest)
    out2, certified2 = execute_into(ledger, batch, info2)
    assert codes(out2) == [OK, DUPLICATE, OK]  # block 2 saw block 1's staged writes and ids
    assert out2.tx_ids == [tid(del_a), b"", tid(put_c)]
    assert ledger.get_state(b"b") is None  # nothing is visible before the commit

    ledger.commit(batch)
    assert ledger.get_state(b"a") is None
    assert ledger.get_state(b"b") == b"2"
    assert ledger.get_state(b"c") == b"3"
    assert ledger.tx_location(put_a) is None  # indexed by id, not by raw bytes
    assert ledger.tx_location(tid(put_a)) == (1, 0)  # the repeat was not re-indexed
    assert ledger.tx_location(tid(put_b)) == (1, 1)
    assert ledger.tx_location(tid(del_a)) == (2, 0)
    assert ledger.tx_location(tid(put_c)) == (2, 2)
    tip = ledger.tip()
    assert (tip.height, tip.hash) == (2, info2.digest)
    assert tip.state_root == out2.results.state_root
    assert out2.results.state_root == state_root(
        out1.results.state_root, 2, {b"a": None, b"c": b"3"}, state_sum=out2.state_sum
    )
    assert tip.state_sum == out2.state_sum
    stored = ledger.results(2)
    assert stored is not None and [r.code for r in stored.results] == [OK, DUPLICATE, OK]
    assert ledger.block(2) == certified2


def test_first_block_chains_from_the_empty_state_root() -> None:
    ledger = ChannelLedger(MemoryStore(), CHANNEL, GENESIS_HASH)
    batch = ledger.batch()
    out, _ = execute_into(ledger, batch, block([put(b"a", b"1")]))
    ledger.commit(batch)
    assert out.results.state_root == state_root(bytes(32), 1, {b"a": b"1"}, state_sum=out.state_sum)
    assert ledger.tip().state_root == out.results.state_root


def test_tx_committed_in_an_earlier_batch_is_a_duplicate_in_a_later_one() -> None:
    ledger = ChannelLedger(MemoryStore(), CHANNEL, GENESIS_HASH)
    put_a = put(b"a", b"1")
    first = ledger.batch()
    info1 = block([put_a])
    execute_into(ledger, first, info1)
    ledger.commit(first)

    second = ledger.batch()
    out, _ = execute_into(ledger, second, block([delete(b"a"), put_a], 2, info1.digest))
    ledger.commit(second)
    assert codes(out) == [OK, DUPLICATE]
    assert ledger.get_state(b"a") is None
    assert ledger.tx_location(tid(put_a)) == (1, 0)


# ------------------------------------------------------------------ parsed once per node


def test_a_tx_admission_decoded_is_not_parsed_again_and_the_verdict_is_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Execution reuses the mempool's decoded tx (a parse per tx per node saved), and the
    block's outcome is exactly a node's that never saw the txs (every node must agree)."""
    import node.executor as executor_module
    from chains.tx import decode_tx

    txs = [put(b"a", b"1"), put(b"b", b"2"), delete(b"a")]
    held = {tid(t): decode_tx(t, CHAIN, TX_BYTES_MAX) for t in txs[:2]}
    certified = certify(block(txs))
    cold = executor().execute(certified, 1, PREVIOUS_ROOT, {}.get, never)
    parsed: list[bytes] = []
    real = executor_module.decode_tx
    monkeypatch.setattr(
        executor_module, "decode_tx", lambda raw, *a, **k: parsed.append(raw) or real(raw, *a, **k)
    )
    warm_executor = executor()
    warm_executor.decoded = held.get
    warm = warm_executor.execute(certified, 1, PREVIOUS_ROOT, {}.get, never)
    assert parsed == [txs[2]]  # only the tx this node had not admitted
    assert warm.results == cold.results and warm.writes == cold.writes
    assert warm.results.state_root == cold.results.state_root


def test_a_held_tx_over_the_channel_s_size_limit_is_judged_as_by_every_other_node() -> None:
    """Admission used the node's own tx_bytes_max; the block is judged by the channel's."""
    from chains.tx import decode_tx

    big = put(b"k", b"v" * 600)
    small_limit = Executor(KvApplication(), CHAIN, CHANNEL, len(big) - 1)
    small_limit.decoded = {tid(big): decode_tx(big, CHAIN, TX_BYTES_MAX)}.get
    outcome = small_limit.execute(certify(block([big])), 1, PREVIOUS_ROOT, {}.get, never)
    assert codes(outcome) == [MALFORMED] and outcome.writes == {}
