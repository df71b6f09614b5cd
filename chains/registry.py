"""Which application a channel runs, from its genesis `app` section, and the registry of
its departments' tx keys, which a department rotates by a tx signed with its current key,
and of the terminals (kiosks) each department adds and removes.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import Any

import nacl.signing
from google.protobuf.message import DecodeError
from nacl.exceptions import BadSignatureError, CryptoError

from chains.base import (
    NODE_KEY_PREFIX,
    Application,
    Department,
    Departments,
    Outcome,
    StateReader,
    refuse,
)
from chains.codes import ALREADY_EXISTS, BAD_PAYLOAD, INVALID_STATE, NOT_ALLOWED, NOT_FOUND
from chains.kv import KvApplication
from chains.tx import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, DecodedTx
from crypto import SIGNATURE_SHAPES, suite_by_name
from protos import api_pb2 as api

# name in genesis -> (module, class); modules load on first use.
APPLICATIONS = {
    "kv": ("chains.kv", "KvApplication"),
    "catalog": ("chains.catalog", "CatalogApplication"),
    "license": ("chains.license", "LicenseApplication"),
    "authentication": ("chains.authentication", "AuthenticationApplication"),
    "authorization": ("chains.authorization", "AuthorizationApplication"),
    "service": ("chains.service", "ServiceApplication"),
}


class UnknownApplication(ValueError):
    pass


def make_application(params: dict[str, Any]) -> tuple[Application, Departments]:
    """The application named in a genesis `app` section (default: kv) and its departments."""
    name = params.get("name", "kv")
    if name not in APPLICATIONS:
        raise UnknownApplication(f"unknown application {name!r} (known: {', '.join(APPLICATIONS)})")
    departments = Departments.from_params(params.get("departments", []))
    if name == "kv":
        return KvApplication(), departments
    module, cls = APPLICATIONS[name]
    return getattr(importlib.import_module(module), cls)(), departments


# ------------------------------------------------------------------ department key rotation
#
# Any channel takes `registry.rotate_key`, whatever its application: the executor runs it
# (node/executor.py), like governance, before the write policy and the application. Its
# signer is the department's current key; the payload names the new key and proves its
# holder agreed. The keys of every department, once one has rotated, live under the
# reserved key below; from the next block on the executor, the applications (through
# `BlockContext.departments`) and admission (through the write policy) use them.

ROTATE_KEY = "registry.rotate_key"
DEPARTMENT_KEYS_KEY = NODE_KEY_PREFIX + b"dept/keys"
ROTATION_CONTEXT = b"govchain-rotate-key"


def possession_bytes(chain_id: str, channel: str, old_key: bytes, new_key: bytes) -> bytes:
    """What the new key signs: the context, then each part prefixed by its length, so the
    proof is bound to one network, channel and old key (it cannot be replayed to another
    channel or to rotate another key)."""
    parts = (chain_id.encode(), channel.encode(), old_key, new_key)
    return ROTATION_CONTEXT + b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def rotate_key_payload(old_key: bytes, new: Any, chain_id: str, channel: str) -> bytes:
    """The payload of a rotation from `old_key` to `new`'s key (the tx is signed by the
    old key; the new one, a nacl key or a suite's signer, signs only its proof of
    possession, in the channel's suite)."""
    new_key = public_key_of(new)
    signed = possession_bytes(chain_id, channel, old_key, new_key)
    proof = new.sign(signed)
    proof = proof.signature if hasattr(new, "verify_key") else proof
    msg = api.RotateKey(new_key=new_key, proof=proof)
    return msg.SerializeToString(deterministic=True)


def rotation_problem(tx: DecodedTx) -> str | None:
    """Why a rotation tx can never apply, whatever the state (admission and execution): a
    payload that does not parse, a key or proof of the wrong size, a new key equal to the
    signer, or a proof the new key did not make."""
    try:
        msg = api.RotateKey.FromString(tx.body.payload)
    except DecodeError:
        return "payload is not a RotateKey"
    # the new key and its proof are of the signer's suite (Ed25519, or SM2 on sm2-sm3)
    key_bytes, proof_bytes = next(
        (shape for shape in SIGNATURE_SHAPES.values() if shape[0] == len(tx.signer)),
        (PUBLIC_KEY_BYTES, SIGNATURE_BYTES),
    )
    if len(msg.new_key) != key_bytes or len(msg.proof) != proof_bytes:
        return f"new_key must be {key_bytes} bytes and proof {proof_bytes}"
    if msg.new_key == tx.signer:
        return "the new key is the signing key"
    body = tx.body
    signed = possession_bytes(body.chain_id, body.channel, tx.signer, msg.new_key)
    bad = "the proof of possession of the new key does not verify"
    if key_bytes != PUBLIC_KEY_BYTES:
        return None if _suite_of(tx.signer).verify(msg.new_key, signed, msg.proof) else bad
    try:
        nacl.signing.VerifyKey(msg.new_key).verify(signed, msg.proof)
    except (BadSignatureError, ValueError, CryptoError):
        return bad
    return None


def departments_in(raw: bytes | None, genesis: Departments) -> Departments:
    """The departments of a channel: the genesis's with the keys kept under
    `DEPARTMENT_KEYS_KEY` (None: nothing changed yet), and the terminal entries added
    since (those the genesis lacks)."""
    if raw is None:
        return genesis
    record = api.DepartmentKeys.FromString(raw)
    out = genesis
    for d in record.departments:
        keys, removed = frozenset(d.keys), frozenset(d.removed_keys)
        known = genesis.by_id.get(d.id)
        if known is not None:
            out = out.with_entry(replace(known, keys=keys, removed=removed))
        else:
            roles = frozenset(d.roles)
            out = out.with_entry(Department(d.id, d.id, keys, roles, d.operator, removed))
    return out


def department_keys_record(departments: Departments) -> bytes:
    """The deterministic record of every department's keys (sorted by id, keys sorted);
    a terminal entry (one with an operator) carries its roles and operator too."""
    record = api.DepartmentKeys(
        departments=[
            api.DepartmentKeySet(
                id=d.id,
                keys=sorted(d.keys),
                roles=sorted(d.roles) if d.operator else [],
                operator=d.operator,
                removed_keys=sorted(d.removed),
            )
            for _, d in sorted(departments.by_id.items())
        ]
    )
    return record.SerializeToString(deterministic=True)


def apply_rotation(state: StateReader, tx: DecodedTx, current: Departments) -> Outcome:
    """Run a committed rotation tx. `current` is the departments at the block's start;
    a rotation earlier in this block is read from `state`, so two rotations of one key in
    one block cannot both apply. A repeat of a committed rotation never gets here (the
    executor refuses a repeated tx id), and its signer is no longer the department's."""
    problem = rotation_problem(tx)
    if problem is not None:
        return refuse(BAD_PAYLOAD, problem)
    msg = api.RotateKey.FromString(tx.body.payload)
    departments = departments_in(state.get(DEPARTMENT_KEYS_KEY), current)
    dept = departments.of_signer(tx.signer)
    if dept is None:
        return refuse(NOT_ALLOWED, "the signer is not a current department key on this channel")
    holder = departments.ever_held(msg.new_key)
    if holder is not None:
        return refuse(ALREADY_EXISTS, f"the new key is (or was) a key of {holder.id!r}")
    keys = (dept.keys - {tx.signer}) | {msg.new_key}
    rotated = departments.with_keys({dept.id: keys})
    return Outcome(writes={DEPARTMENT_KEYS_KEY: department_keys_record(rotated)})


# ------------------------------------------------------------------ terminal keys
#
# A department adds each of its kiosks (hall desks, apps) as a terminal entry of the
# registry: `registry.add_terminal`, signed by the department's current key, names the
# terminal id and its own key, with the terminal key's signature over the possession
# bytes below (so no department can add a key whose holder did not agree). The entry
# has the "terminal" role, one key, and the signer's department as its operator; the
# authorization and service applications accept grants and case steps from it as from a
# genesis terminal entry. `registry.remove_terminal`, signed by the operator's key (any
# department's for a genesis terminal entry that names no operator), empties the entry's
# keys: from the next block on nothing the terminal signs passes admission or the
# applications on that channel. The id stays taken and the key is kept as removed, so a
# removed terminal cannot be added back under its id or its key (nor a key rotated to
# it). `govchain terminal register|revoke` sends both to every channel.

ADD_TERMINAL = "registry.add_terminal"
REMOVE_TERMINAL = "registry.remove_terminal"
REGISTRY_TYPES = frozenset({ROTATE_KEY, ADD_TERMINAL, REMOVE_TERMINAL})
TERMINAL_CONTEXT = b"govchain-add-terminal"
TERMINAL_ROLE = "terminal"
TERMINAL_ID_BYTES_MAX = 128


def terminal_possession_bytes(
    chain_id: str, department: str, terminal_id: str, public_key: bytes
) -> bytes:
    """What the terminal key signs to be added: the context, then each part prefixed by
    its length. Bound to the network, the operating department and the terminal id, not
    to a channel: the kiosk makes one proof that its department sends to every channel."""
    parts = (chain_id.encode(), department.encode(), terminal_id.encode(), public_key)
    return TERMINAL_CONTEXT + b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def public_key_of(key: Any) -> bytes:
    """The public key of a nacl SigningKey or a crypto.SuiteSigner."""
    return bytes(key.verify_key) if hasattr(key, "verify_key") else key.public_key


def terminal_proof(key: Any, chain_id: str, department: str, terminal_id: str) -> bytes:
    """The terminal key's proof of possession (made on the kiosk, by its own key)."""
    signed = terminal_possession_bytes(chain_id, department, terminal_id, public_key_of(key))
    signature = key.sign(signed)
    return signature.signature if hasattr(key, "verify_key") else signature


def _suite_of(signer: bytes) -> Any:
    """The suite of a channel's keys, known from the length of a signer it decoded."""
    name = next(n for n, (size, _) in SIGNATURE_SHAPES.items() if size == len(signer))
    return suite_by_name(name)


def terminal_problem(tx: DecodedTx) -> str | None:
    """Why an add_terminal or remove_terminal tx can never apply, whatever the state: a
    payload that does not parse, a bad id, a key not of the signer's shape or the signer
    itself, a proof of the wrong size."""
    is_add = tx.body.type == ADD_TERMINAL
    kind = api.AddTerminal if is_add else api.RemoveTerminal
    try:
        msg = kind.FromString(tx.body.payload)
    except DecodeError:
        return f"payload is not a {kind.DESCRIPTOR.name}"
    tid = msg.terminal_id
    if not tid or "\x00" in tid or len(tid.encode()) > TERMINAL_ID_BYTES_MAX:
        return f"terminal_id must be 1..{TERMINAL_ID_BYTES_MAX} bytes without NUL"
    if not is_add:
        return None
    if len(msg.public_key) != len(tx.signer) or len(msg.proof) != SIGNATURE_BYTES:
        return f"public_key must be {len(tx.signer)} bytes and proof {SIGNATURE_BYTES}"
    if msg.public_key == tx.signer:
        return "the terminal key is the signing key"
    return None


def registry_denied(departments: Departments, tx: DecodedTx) -> str | None:
    """Why admission refuses this registry tx's signer (the executor judges again, on the
    state): only a current department key sends one, and a terminal no add or remove."""
    dept = departments.of_signer(tx.signer)
    if dept is None:
        return "the signer is not a department key; only a department sends registry txs"
    if tx.body.type != ROTATE_KEY and TERMINAL_ROLE in dept.roles:
        return f"{dept.id!r} is a terminal; only its department adds or removes terminals"
    return None


def registry_problem(tx: DecodedTx) -> str | None:
    """The stateless check of any registry tx (admission and execution)."""
    if tx.body.type == ROTATE_KEY:
        return rotation_problem(tx)
    return terminal_problem(tx)


def _operating(departments: Departments, signer: bytes) -> Department | Outcome:
    """The signer's department, or the refusal: only a department (no terminal) adds
    and removes terminals."""
    dept = departments.of_signer(signer)
    if dept is None or TERMINAL_ROLE in dept.roles:
        return refuse(NOT_ALLOWED, "the signer is not a current department key on this channel")
    return dept


def apply_add_terminal(state: StateReader, tx: DecodedTx, current: Departments) -> Outcome:
    """Add a terminal entry (see above); `current` as in `apply_rotation`."""
    msg = api.AddTerminal.FromString(tx.body.payload)
    departments = departments_in(state.get(DEPARTMENT_KEYS_KEY), current)
    dept = _operating(departments, tx.signer)
    if isinstance(dept, Outcome):
        return dept
    signed = terminal_possession_bytes(tx.body.chain_id, dept.id, msg.terminal_id, msg.public_key)
    if not _suite_of(tx.signer).verify(msg.public_key, signed, msg.proof):
        return refuse(BAD_PAYLOAD, "the proof of possession of the terminal key does not verify")
    if msg.terminal_id in departments.by_id:
        return refuse(ALREADY_EXISTS, f"{msg.terminal_id!r} is already in the registry")
    holder = departments.ever_held(msg.public_key)
    if holder is not None:
        return refuse(ALREADY_EXISTS, f"the terminal key is (or was) a key of {holder.id!r}")
    roles = frozenset({TERMINAL_ROLE})
    entry = Department(
        msg.terminal_id, msg.terminal_id, frozenset({msg.public_key}), roles, dept.id
    )
    return Outcome(
        writes={DEPARTMENT_KEYS_KEY: department_keys_record(departments.with_entry(entry))}
    )


def apply_remove_terminal(state: StateReader, tx: DecodedTx, current: Departments) -> Outcome:
    """Empty a terminal entry's keys (see above); `current` as in `apply_rotation`."""
    msg = api.RemoveTerminal.FromString(tx.body.payload)
    departments = departments_in(state.get(DEPARTMENT_KEYS_KEY), current)
    dept = _operating(departments, tx.signer)
    if isinstance(dept, Outcome):
        return dept
    entry = departments.by_id.get(msg.terminal_id)
    if entry is None or TERMINAL_ROLE not in entry.roles:
        return refuse(NOT_FOUND, f"{msg.terminal_id!r} is not a terminal in the registry")
    if entry.operator not in ("", dept.id):
        return refuse(
            NOT_ALLOWED, f"{entry.id!r} is operated by {entry.operator!r}, not {dept.id!r}"
        )
    if not entry.keys:
        return refuse(INVALID_STATE, f"terminal {entry.id!r} is removed already")
    removed = departments.with_entry(replace(entry, keys=frozenset(), removed=entry.keys))
    return Outcome(writes={DEPARTMENT_KEYS_KEY: department_keys_record(removed)})


def apply_registry(state: StateReader, tx: DecodedTx, current: Departments) -> Outcome:
    """Run any committed registry tx (node/executor.py)."""
    if tx.body.type == ROTATE_KEY:
        return apply_rotation(state, tx, current)
    problem = terminal_problem(tx)
    if problem is not None:
        return refuse(BAD_PAYLOAD, problem)
    if tx.body.type == ADD_TERMINAL:
        return apply_add_terminal(state, tx, current)
    return apply_remove_terminal(state, tx, current)
