"""What the application tests share: department keys, signed txs, and applying an
outcome the way the executor does.

Every app test and state machine signs real txs with deterministic department keys and
decodes them as the executor does; `signing_key`, `departments` and `signed_tx` build
those in one place. The executor (node/executor.py) stages an application's writes only
when the tx succeeds; a refused tx keeps its place with a code and a reason and changes
nothing. `apply_outcome` holds every outcome to that.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import nacl.signing
from google.protobuf.message import Message

from chains.base import Departments, Outcome
from chains.codes import OK
from chains.tx import DecodedTx, decode_tx, encode_tx
from protos import api_pb2 as api

CHAIN = "govchain-test"
TX_BYTES_MAX = 1 << 16
NOW_MS = 1_700_000_000_000

_nonces = itertools.count(1)


def reset_nonces() -> None:
    """Start nonces at 1 again: a test's tx ids then never depend on which tests ran
    before it (tests/unit/conftest.py does this before each test)."""
    global _nonces
    _nonces = itertools.count(1)


def signing_key(seed: int) -> nacl.signing.SigningKey:
    """A deterministic Ed25519 key: the seed byte repeated 32 times."""
    return nacl.signing.SigningKey(bytes([seed]) * 32)


def public_hex(key: nacl.signing.SigningKey) -> str:
    """The public key as a channel genesis lists it."""
    return bytes(key.verify_key).hex()


def departments(
    *members: tuple[str, Iterable[nacl.signing.SigningKey], Iterable[str]],
) -> Departments:
    """The consortium from (department id, its signing keys, its roles), as in a genesis."""
    return Departments.from_params(
        [
            {"id": dept, "keys": [public_hex(k) for k in keys], "roles": list(roles)}
            for dept, keys, roles in members
        ]
    )


def signed_tx(
    signer: nacl.signing.SigningKey, channel: str, tx_type: str, payload: Message | bytes
) -> DecodedTx:
    """A signed tx (a fresh nonce each) decoded as the executor decodes it; `payload` is
    a message or raw bytes (for txs whose payload must not parse)."""
    raw = payload if isinstance(payload, bytes) else payload.SerializeToString()
    body = api.TxBody(
        chain_id=CHAIN, channel=channel, type=tx_type, payload=raw, nonce=next(_nonces)
    )
    return decode_tx(encode_tx(body, signer), CHAIN, TX_BYTES_MAX)


def apply_outcome(state: dict[bytes, bytes], out: Outcome) -> Outcome:
    """Write `out` into `state` like the executor; a refusal must carry a reason and no
    writes (else the test fails here, naming the code)."""
    if out.code != OK:
        assert not out.writes, f"refusal {out.code} ({out.reason}) carries writes"
        assert out.reason, f"refusal {out.code} without a reason"
        return out
    for key, value in out.writes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    return out
