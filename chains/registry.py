"""Which application a channel runs, from its genesis `app` section, and the registry of
its departments' tx keys, which a department rotates by a tx signed with its current key.
"""

from __future__ import annotations

import importlib
from typing import Any

import nacl.signing
from google.protobuf.message import DecodeError
from nacl.exceptions import BadSignatureError, CryptoError

from chains.base import (
    NODE_KEY_PREFIX,
    Application,
    Departments,
    Outcome,
    StateReader,
    refuse,
)
from chains.codes import ALREADY_EXISTS, BAD_PAYLOAD, NOT_ALLOWED
from chains.kv import KvApplication
from chains.tx import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, DecodedTx
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


def rotate_key_payload(
    old_key: bytes, new: nacl.signing.SigningKey, chain_id: str, channel: str
) -> bytes:
    """The payload of a rotation from `old_key` to `new`'s key (the tx is signed by the
    old key; the new one signs only its proof of possession)."""
    new_key = bytes(new.verify_key)
    signed = possession_bytes(chain_id, channel, old_key, new_key)
    msg = api.RotateKey(new_key=new_key, proof=new.sign(signed).signature)
    return msg.SerializeToString(deterministic=True)


def rotation_problem(tx: DecodedTx) -> str | None:
    """Why a rotation tx can never apply, whatever the state (admission and execution): a
    payload that does not parse, a key or proof of the wrong size, a new key equal to the
    signer, or a proof the new key did not make."""
    try:
        msg = api.RotateKey.FromString(tx.body.payload)
    except DecodeError:
        return "payload is not a RotateKey"
    if len(msg.new_key) != PUBLIC_KEY_BYTES or len(msg.proof) != SIGNATURE_BYTES:
        return f"new_key must be {PUBLIC_KEY_BYTES} bytes and proof {SIGNATURE_BYTES}"
    if msg.new_key == tx.signer:
        return "the new key is the signing key"
    body = tx.body
    signed = possession_bytes(body.chain_id, body.channel, tx.signer, msg.new_key)
    try:
        nacl.signing.VerifyKey(msg.new_key).verify(signed, msg.proof)
    except (BadSignatureError, ValueError, CryptoError):
        return "the proof of possession of the new key does not verify"
    return None


def departments_in(raw: bytes | None, genesis: Departments) -> Departments:
    """The departments of a channel: the genesis's with the keys kept under
    `DEPARTMENT_KEYS_KEY` (None: none has rotated)."""
    if raw is None:
        return genesis
    record = api.DepartmentKeys.FromString(raw)
    return genesis.with_keys({d.id: frozenset(d.keys) for d in record.departments})


def department_keys_record(departments: Departments) -> bytes:
    """The deterministic record of every department's keys (sorted by id, keys sorted)."""
    record = api.DepartmentKeys(
        departments=[
            api.DepartmentKeySet(id=d.id, keys=sorted(d.keys))
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
    holder = departments.of_signer(msg.new_key)
    if holder is not None:
        return refuse(ALREADY_EXISTS, f"the new key is already a key of {holder.id!r}")
    keys = (dept.keys - {tx.signer}) | {msg.new_key}
    rotated = departments.with_keys({dept.id: keys})
    return Outcome(writes={DEPARTMENT_KEYS_KEY: department_keys_record(rotated)})
