"""A department adds its kiosks' own keys to the registry of every channel and removes
them (`registry.add_terminal`, `registry.remove_terminal`, chains/registry.py): only a
department, only with the terminal key's proof of possession, and from the next block on
nothing the removed key signs passes admission, the write policy or the applications;
a genesis terminal entry is removable too."""

from __future__ import annotations

from collections.abc import Callable

import nacl.signing

from chains.authorization import CREATE_GRANT, AuthorizationApplication
from chains.base import BlockContext, Departments
from chains.codes import (
    ALREADY_EXISTS,
    BAD_PAYLOAD,
    INVALID_STATE,
    NOT_ALLOWED,
    NOT_FOUND,
    OK,
)
from chains.registry import (
    ADD_TERMINAL,
    DEPARTMENT_KEYS_KEY,
    REMOVE_TERMINAL,
    departments_in,
    terminal_possession_bytes,
    terminal_proof,
)
from chains.tx import decode_tx, encode_tx
from crypto import SuiteSigner, suite_by_name
from node.executor import NOT_PERMITTED
from node.verifier import BatchVerifier
from protos import api_pb2 as api
from tests.apps import NOW_MS, departments, signing_key
from tests.unit.test_authorization_app import grant
from tests.unit.test_key_rotation import (
    CHAIN,
    TX_MAX,
    Chain,
    admission,
    codes,
    put,
    rotation,
    statuses,
    tx,
)
from tests.unit.test_key_rotation import verifier as verifier

AGRI, TAX, KIOSK1, KIOSK2, STRANGER = (signing_key(s) for s in (1, 3, 5, 6, 4))
GENESIS = departments(
    ("agri", [AGRI], ["department"]),
    ("tax", [TAX], ["department"]),
    ("kiosk-01", [KIOSK1], ["terminal"]),
)
RULES = {"*": ["department", "terminal"]}


def add(
    signer: nacl.signing.SigningKey,
    terminal: nacl.signing.SigningKey,
    terminal_id: str = "kiosk-02",
    nonce: int = 1,
    proof_for: str = "agri",
) -> bytes:
    """An add_terminal tx; the proof is made by `terminal` for department `proof_for`."""
    msg = api.AddTerminal(
        terminal_id=terminal_id,
        public_key=bytes(terminal.verify_key),
        proof=terminal_proof(terminal, CHAIN, proof_for, terminal_id),
    )
    return tx(signer, ADD_TERMINAL, msg.SerializeToString(deterministic=True), nonce)


def remove(signer: nacl.signing.SigningKey, terminal_id: str = "kiosk-02", nonce: int = 1) -> bytes:
    msg = api.RemoveTerminal(terminal_id=terminal_id)
    return tx(signer, REMOVE_TERMINAL, msg.SerializeToString(deterministic=True), nonce)


def chain() -> Chain:
    return Chain(genesis=GENESIS, rules=RULES)


def test_a_department_adds_a_terminal_that_signs_from_the_next_block() -> None:
    c = chain()
    # The terminal's put in the same block is still refused: the registry changes for
    # the next block, for every tx of a block alike.
    assert codes(c.block(add(AGRI, KIOSK2), put(KIOSK2, 2))) == [OK, NOT_PERMITTED]
    entry = c.executor.departments.by_id["kiosk-02"]
    assert entry.keys == {bytes(KIOSK2.verify_key)}
    assert entry.roles == {"terminal"} and entry.operator == "agri"
    assert codes(c.block(put(KIOSK2, 3))) == [OK]
    # what a restarted node loads from the state
    assert departments_in(c.state[DEPARTMENT_KEYS_KEY], GENESIS) == c.executor.departments


def test_only_a_department_adds_a_terminal() -> None:
    c = chain()
    # a terminal (genesis entry) cannot add another; a stranger neither
    results = c.block(add(KIOSK1, KIOSK2, proof_for="kiosk-01"), add(STRANGER, KIOSK2, nonce=2))
    assert codes(results) == [NOT_ALLOWED, NOT_ALLOWED]
    assert DEPARTMENT_KEYS_KEY not in c.state


def test_a_terminal_key_without_proof_of_possession_is_refused() -> None:
    c = chain()
    forged = api.AddTerminal(
        terminal_id="kiosk-02",
        public_key=bytes(KIOSK2.verify_key),
        proof=STRANGER.sign(
            terminal_possession_bytes(CHAIN, "agri", "kiosk-02", bytes(KIOSK2.verify_key))
        ).signature,
    )
    moved = api.AddTerminal(
        terminal_id="kiosk-09",
        public_key=bytes(KIOSK2.verify_key),
        proof=terminal_proof(KIOSK2, CHAIN, "agri", "kiosk-02"),  # made for another id
    )
    results = c.block(
        tx(AGRI, ADD_TERMINAL, forged.SerializeToString(deterministic=True)),
        add(AGRI, KIOSK2, proof_for="tax", nonce=2),  # made for another department
        tx(AGRI, ADD_TERMINAL, moved.SerializeToString(deterministic=True), 3),
    )
    assert codes(results) == [BAD_PAYLOAD] * 3
    assert all("proof of possession" in r.reason for r in results)
    assert DEPARTMENT_KEYS_KEY not in c.state


def test_a_taken_id_or_key_is_refused() -> None:
    c = chain()
    results = c.block(
        add(AGRI, KIOSK2, terminal_id="kiosk-01"),  # a genesis entry's id
        add(AGRI, KIOSK1, terminal_id="kiosk-03", nonce=2),  # a genesis terminal's key
        add(AGRI, TAX, terminal_id="kiosk-04", nonce=3),  # a department's key
    )
    assert codes(results) == [ALREADY_EXISTS] * 3


def test_the_operator_removes_its_terminal_and_the_id_stays_taken() -> None:
    c = chain()
    c.block(add(AGRI, KIOSK2))
    assert codes(c.block(remove(TAX))) == [NOT_ALLOWED]  # not tax's terminal
    assert codes(c.block(remove(KIOSK2, nonce=2))) == [NOT_ALLOWED]  # nor its own
    assert codes(c.block(remove(AGRI, "kiosk-77", nonce=3))) == [NOT_FOUND]
    assert codes(c.block(remove(AGRI, "tax", nonce=4))) == [NOT_FOUND]  # not a terminal
    # The same block still sees the key; from the next one on it signs nothing.
    assert codes(c.block(remove(AGRI, nonce=5), put(KIOSK2, 6))) == [OK, OK]
    results = c.block(put(KIOSK2, 7), remove(AGRI, nonce=8), add(AGRI, KIOSK2, nonce=9))
    assert codes(results) == [NOT_PERMITTED, INVALID_STATE, ALREADY_EXISTS]
    assert c.executor.departments.by_id["kiosk-02"].keys == frozenset()
    assert departments_in(c.state[DEPARTMENT_KEYS_KEY], GENESIS) == c.executor.departments


def test_a_genesis_terminal_entry_is_removable() -> None:
    c = chain()
    # It names no operator: any department may remove it (removal is the safe way).
    assert codes(c.block(remove(TAX, "kiosk-01"))) == [OK]
    assert codes(c.block(put(KIOSK1, 2))) == [NOT_PERMITTED]
    # One that names its operator is removed by that department only.
    genesis = Departments.from_params(
        [
            {"id": "agri", "keys": [bytes(AGRI.verify_key).hex()], "roles": ["department"]},
            {"id": "tax", "keys": [bytes(TAX.verify_key).hex()], "roles": ["department"]},
            {
                "id": "kiosk-01",
                "keys": [bytes(KIOSK1.verify_key).hex()],
                "roles": ["terminal"],
                "operator": "agri",
            },
        ]
    )
    c = Chain(genesis=genesis, rules=RULES)
    assert codes(c.block(remove(TAX, "kiosk-01"), remove(AGRI, "kiosk-01", 2))) == [NOT_ALLOWED, OK]
    assert departments_in(c.state[DEPARTMENT_KEYS_KEY], genesis) == c.executor.departments


def create_grant(signer: nacl.signing.SigningKey, grant_id: str, departments: Departments) -> int:
    """The authorization application's verdict on a grant `signer` signs."""
    body = api.TxBody(
        chain_id=CHAIN,
        channel="authorization",
        type=CREATE_GRANT,
        payload=grant(grant_id=grant_id, grantee="tax").SerializeToString(),
        nonce=1,
    )
    decoded = decode_tx(encode_tx(body, signer), CHAIN, TX_MAX)
    ctx = BlockContext(height=1, timestamp_ms=NOW_MS, departments=departments)
    return AuthorizationApplication().apply({}, decoded, ctx).code


def test_the_authorization_application_follows_the_registry() -> None:
    c = chain()
    assert create_grant(KIOSK2, "g-1", c.executor.departments) == NOT_ALLOWED
    c.block(add(AGRI, KIOSK2))
    assert create_grant(KIOSK2, "g-2", c.executor.departments) == OK
    c.block(remove(AGRI, nonce=2), remove(AGRI, "kiosk-01", nonce=3))
    assert create_grant(KIOSK2, "g-3", c.executor.departments) == NOT_ALLOWED
    assert create_grant(KIOSK1, "g-4", c.executor.departments) == NOT_ALLOWED


def test_admission_follows_the_registry(verifier: Callable[[], BatchVerifier]) -> None:
    c = chain()
    ch = admission(c.executor, verifier())
    assert statuses(ch, put(KIOSK2, 1)) == [api.PERMISSION_DENIED]
    # a terminal sends no registry tx; a malformed one never gets in
    assert statuses(ch, add(KIOSK1, KIOSK2, proof_for="kiosk-01")) == [api.PERMISSION_DENIED]
    bad = tx(AGRI, ADD_TERMINAL, api.AddTerminal(terminal_id="k").SerializeToString(), 5)
    assert statuses(ch, bad) == [api.REJECTED]
    assert statuses(ch, add(AGRI, KIOSK2, nonce=6)) == [api.ACCEPTED]
    c.block(add(AGRI, KIOSK2, nonce=6))
    assert statuses(ch, put(KIOSK2, 2)) == [api.ACCEPTED]
    c.block(remove(AGRI, nonce=7))
    assert statuses(ch, put(KIOSK2, 3)) == [api.PERMISSION_DENIED]


def test_on_an_sm2_chain_the_proof_is_an_sm2_signature() -> None:
    suite = suite_by_name("sm2-sm3")
    dept, kiosk = (SuiteSigner.from_seed(suite, bytes([s]) * 32) for s in (7, 8))
    genesis = Departments.from_params(
        [{"id": "agri", "keys": [dept.public_key.hex()], "roles": ["department"]}]
    )
    c = Chain(genesis=genesis, rules=RULES)
    msg = api.AddTerminal(
        terminal_id="kiosk-02",
        public_key=kiosk.public_key,
        proof=terminal_proof(kiosk, CHAIN, "agri", "kiosk-02"),
    )
    forged = api.AddTerminal(
        terminal_id="kiosk-03",
        public_key=kiosk.public_key,
        proof=terminal_proof(dept, CHAIN, "agri", "kiosk-03"),  # not by the terminal's key
    )
    payloads = (m.SerializeToString(deterministic=True) for m in (msg, forged))
    raws = [tx(dept, ADD_TERMINAL, p, nonce) for nonce, p in enumerate(payloads)]
    assert codes(c.block(*raws)) == [OK, BAD_PAYLOAD]
    assert c.executor.departments.by_id["kiosk-02"].keys == {kiosk.public_key}


def test_a_removed_key_never_comes_back() -> None:
    c = chain()
    c.block(add(AGRI, KIOSK2), remove(AGRI, "kiosk-01", nonce=2))
    c.block(remove(AGRI, nonce=3))
    # not under another id, not as a department's rotated key, for a genesis entry's too
    results = c.block(
        add(AGRI, KIOSK2, terminal_id="kiosk-05", nonce=4),
        add(AGRI, KIOSK1, terminal_id="kiosk-06", nonce=5),
        rotation(TAX, KIOSK2),
    )
    assert codes(results) == [ALREADY_EXISTS] * 3
    assert "was) a key of 'kiosk-02'" in results[0].reason
    assert c.executor.departments.by_id["kiosk-01"].removed == {bytes(KIOSK1.verify_key)}
    assert departments_in(c.state[DEPARTMENT_KEYS_KEY], GENESIS) == c.executor.departments
