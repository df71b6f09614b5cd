"""A department rotates its tx key on a channel (`registry.rotate_key`, chains/registry.py):
signed by its current key, with a proof the new key's holder made; from the next block on
the executor, the applications and admission know only the new key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import nacl.signing
import pytest

from chains.base import BlockContext, Departments, Outcome, StateReader
from chains.codes import ALREADY_EXISTS, BAD_PAYLOAD, NOT_ALLOWED, OK
from chains.kv import KvApplication
from chains.policy import ANY, WritePolicy
from chains.registry import (
    DEPARTMENT_KEYS_KEY,
    ROTATE_KEY,
    departments_in,
    possession_bytes,
    rotate_key_payload,
)
from chains.tx import DecodedTx, encode_tx
from consensus.blocks import make_block
from consensus.config import ConsensusConfig
from consensus.hashing import sha256
from node.admission import ChannelAdmission, admit
from node.executor import DUPLICATE, NOT_PERMITTED, Executor
from node.mempool import Mempool
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from protos import kv_pb2
from tests.apps import departments, signing_key

CHAIN, CHANNEL, TX_MAX = "govchain-test", "license", 1 << 16
OLD, NEW, OTHER, STRANGER = (signing_key(s) for s in (1, 2, 3, 4))
GENESIS = departments(("agri", [OLD], ["department"]), ("tax", [OTHER], ["department"]))
RULES = {ANY: ["department"]}
VALIDATORS = tuple(bytes(signing_key(20 + i).verify_key) for i in range(4))


def rotation(
    signer: nacl.signing.SigningKey, new: nacl.signing.SigningKey, nonce: int = 1
) -> bytes:
    payload = rotate_key_payload(bytes(signer.verify_key), new, CHAIN, CHANNEL)
    return tx(signer, ROTATE_KEY, payload, nonce)


def tx(key: nacl.signing.SigningKey, kind: str, payload: bytes, nonce: int = 1) -> bytes:
    body = api.TxBody(chain_id=CHAIN, channel=CHANNEL, type=kind, payload=payload, nonce=nonce)
    return encode_tx(body, key)


def put(key: nacl.signing.SigningKey, nonce: int = 1) -> bytes:
    return tx(key, "kv.put", kv_pb2.KvPut(key=b"k", value=b"v").SerializeToString(), nonce)


class Chain:
    """An executor and the world state its blocks build, one block at a time."""

    def __init__(
        self, app: object | None = None, genesis: Departments = GENESIS, rules: dict = RULES
    ) -> None:
        policy = WritePolicy.from_params(rules, genesis)
        self.executor = Executor(app or KvApplication(), CHAIN, CHANNEL, TX_MAX, genesis, policy)
        self.state: dict[bytes, bytes] = {}
        self.ids: set[bytes] = set()
        self.height = 0

    def block(self, *txs: bytes) -> list[api.TxResult]:
        self.height += 1
        cfg = ConsensusConfig(channel=CHANNEL, validators=VALIDATORS)
        info = make_block(cfg, self.height, 0, sha256(b"p"), list(txs), VALIDATORS[0], 1000)
        out = self.executor.execute(
            pb.CertifiedBlock(block=info.block),
            self.height,
            sha256(b"r"),
            self.state.get,
            lambda tid: tid in self.ids,
        )
        for k, v in out.writes.items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v
        self.ids.update(t for t in out.tx_ids if t)
        return list(out.results.results)


def codes(results: list[api.TxResult]) -> list[int]:
    return [r.code for r in results]


def keys_of(d: Departments, dept: str) -> set[bytes]:
    return set(d.by_id[dept].keys)


def test_signed_by_the_old_key_it_rotates_from_the_next_block_on() -> None:
    chain = Chain()
    # The old key's put later in the same block still counts: the change rules from the
    # next block on, for every tx of a block alike.
    assert codes(chain.block(rotation(OLD, NEW), put(OLD, 2))) == [OK, OK]
    assert keys_of(chain.executor.departments, "agri") == {bytes(NEW.verify_key)}
    assert keys_of(chain.executor.departments, "tax") == {bytes(OTHER.verify_key)}
    results = chain.block(put(OLD, 3), put(NEW, 4))
    assert codes(results) == [NOT_PERMITTED, OK]
    assert "not a registered department key" in results[0].reason


def test_the_stored_keys_are_what_a_restarted_node_loads() -> None:
    chain = Chain()
    chain.block(rotation(OLD, NEW))
    loaded = departments_in(chain.state[DEPARTMENT_KEYS_KEY], GENESIS)
    assert loaded == chain.executor.departments
    assert loaded.by_id["agri"].roles == GENESIS.by_id["agri"].roles
    assert departments_in(None, GENESIS) == GENESIS


def test_a_key_rotates_only_its_own_department_and_a_stranger_none() -> None:
    chain = Chain()
    # tax rotates its own key, not agri's: agri's old key stays agri's
    assert codes(chain.block(rotation(OTHER, NEW))) == [OK]
    assert keys_of(chain.executor.departments, "agri") == {bytes(OLD.verify_key)}
    assert keys_of(chain.executor.departments, "tax") == {bytes(NEW.verify_key)}
    assert codes(chain.block(rotation(STRANGER, signing_key(5)))) == [NOT_ALLOWED]


def without_possession(signer: nacl.signing.SigningKey) -> list[bytes]:
    """Rotations to NEW whose proof NEW did not make for this rotation."""
    new_key = bytes(NEW.verify_key)

    def proof(by: nacl.signing.SigningKey, channel: str = CHANNEL) -> bytes:
        signed = possession_bytes(CHAIN, channel, bytes(signer.verify_key), new_key)
        return by.sign(signed).signature

    payloads = [
        api.RotateKey(new_key=new_key, proof=proof(STRANGER)),
        api.RotateKey(new_key=new_key, proof=proof(NEW, "catalog")),
        api.RotateKey(new_key=new_key, proof=b""),
    ]
    return [
        tx(signer, ROTATE_KEY, p.SerializeToString(deterministic=True), nonce=i)
        for i, p in enumerate(payloads)
    ]


def test_a_new_key_without_proof_of_possession_is_refused() -> None:
    chain = Chain()
    results = chain.block(*without_possession(OLD))
    assert codes(results) == [BAD_PAYLOAD] * 3
    assert "proof" in results[0].reason and "proof" in results[2].reason
    assert DEPARTMENT_KEYS_KEY not in chain.state


def test_a_key_of_another_department_is_not_a_new_key() -> None:
    chain = Chain()
    assert codes(chain.block(rotation(OLD, OTHER))) == [ALREADY_EXISTS]


def test_a_rotation_applies_once() -> None:
    chain = Chain()
    first = rotation(OLD, NEW)
    # In one block: the second rotation by the old key sees the first (state, not ctx).
    again = rotation(OLD, STRANGER)
    assert codes(chain.block(first, again)) == [OK, NOT_ALLOWED]
    assert codes(chain.block(first)) == [DUPLICATE]  # the same tx re-submitted
    assert codes(chain.block(rotation(OLD, STRANGER, nonce=2))) == [NOT_ALLOWED]
    assert keys_of(chain.executor.departments, "agri") == {bytes(NEW.verify_key)}
    # and the new key may rotate on (back to the old one, with a fresh proof)
    assert codes(chain.block(rotation(NEW, OLD))) == [OK]
    assert keys_of(chain.executor.departments, "agri") == {bytes(OLD.verify_key)}


class Recorder:
    """An application that records the departments each tx saw."""

    def __init__(self) -> None:
        self.seen: list[Departments] = []

    def check(self, tx: DecodedTx) -> str | None:
        return None

    def apply(self, state: StateReader, tx: DecodedTx, ctx: BlockContext) -> Outcome:
        self.seen.append(ctx.departments)
        return Outcome()


def test_the_applications_see_the_new_key_from_the_next_block() -> None:
    app = Recorder()
    chain = Chain(app)
    chain.block(rotation(OLD, NEW), put(OLD, 2))
    chain.block(put(NEW, 3))
    before, after = app.seen
    assert before.of_signer(bytes(OLD.verify_key)) is not None
    assert after.of_signer(bytes(NEW.verify_key)).id == "agri"  # type: ignore[union-attr]
    assert after.of_signer(bytes(OLD.verify_key)) is None


def admission(executor: Executor, verifier: BatchVerifier) -> ChannelAdmission:
    ch = ChannelAdmission(
        checker=NodeTxChecker(verifier, CHAIN, CHANNEL, TX_MAX),
        mempool=Mempool(100, 1 << 20),
        app=KvApplication(),
        next_height=lambda: 1,
        committed=lambda _: False,
        enqueue=lambda _txs: None,
        policy=executor.policy,
    )
    executor.on_policy = lambda p: setattr(ch, "policy", p)
    return ch


@pytest.fixture
def verifier() -> Callable[[], BatchVerifier]:
    made: list[BatchVerifier] = []
    yield lambda: made.append(BatchVerifier(threads=1)) or made[-1]
    for v in made:
        v.close()


def statuses(ch: ChannelAdmission, *raws: bytes) -> list[int]:
    results, _ = asyncio.run(admit(list(raws), CHAIN, TX_MAX, {CHANNEL: ch}))
    return [r.status for r in results]


def test_admission_follows_the_rotation(verifier: Callable[[], BatchVerifier]) -> None:
    chain = Chain()
    ch = admission(chain.executor, verifier())
    assert statuses(ch, put(OLD, 1), put(NEW, 2)) == [api.ACCEPTED, api.PERMISSION_DENIED]
    chain.block(rotation(OLD, NEW))
    assert statuses(ch, put(OLD, 3), put(NEW, 4)) == [api.PERMISSION_DENIED, api.ACCEPTED]


def test_admission_refuses_rotations_that_can_never_apply(
    verifier: Callable[[], BatchVerifier],
) -> None:
    ch = admission(Chain().executor, verifier())
    assert statuses(ch, rotation(STRANGER, NEW)) == [api.PERMISSION_DENIED]
    assert statuses(ch, *without_possession(OLD)) == [api.REJECTED] * 3
    assert statuses(ch, rotation(OLD, NEW)) == [api.ACCEPTED]
