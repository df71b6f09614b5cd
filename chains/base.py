"""The interface between the executor and a channel's application, and shared helpers.

An application sees one committed tx at a time, with read access to its channel's world
state as of that point in the block and a `BlockContext` (height, the block's timestamp,
the consortium's departments from the channel genesis). It returns a result code and the
writes to make. Applications read only their own channel: channels are separate ledgers
with separate consensus, so another channel's state is not deterministic at execution
time. Rules that span channels are checked by the providing node at pull time, on
committed state, and that decision is itself a transaction (see node/datashare_api.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from google.protobuf.message import DecodeError, Message

from chains.tx import DecodedTx

OK = 0
# Codes shared by every application; each application adds its own from 100 up.
BAD_PAYLOAD = 100
UNKNOWN_TYPE = 101
NOT_ALLOWED = 102  # the signer's department may not send this type / touch this record
NOT_FOUND = 103  # a referenced record does not exist
ALREADY_EXISTS = 104
INVALID_STATE = 105  # e.g. revoked, expired, suspended, wrong status transition
OUT_OF_SCOPE = 106  # items outside what is allowed

M = TypeVar("M", bound=Message)


class StateReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    keys: frozenset[bytes]
    roles: frozenset[str]


@dataclass(frozen=True)
class Departments:
    """The consortium's departments and their tx-signing keys, from the channel genesis."""

    by_id: Mapping[str, Department] = field(default_factory=dict)

    @classmethod
    def from_params(cls, entries: list[dict]) -> Departments:
        out = {}
        for e in entries:
            keys = frozenset(bytes.fromhex(k) for k in e.get("keys", []))
            out[e["id"]] = Department(
                e["id"], e.get("name", e["id"]), keys, frozenset(e.get("roles", []))
            )
        return cls(out)

    def of_signer(self, key: bytes) -> Department | None:
        for dept in self.by_id.values():
            if key in dept.keys:
                return dept
        return None


@dataclass(frozen=True)
class BlockContext:
    height: int
    timestamp_ms: int
    departments: Departments


@dataclass(frozen=True)
class Outcome:
    """What one tx did: code 0 with writes, or a non-zero code and a reason and no writes."""

    code: int = OK
    reason: str = ""
    writes: Mapping[bytes, bytes | None] = field(default_factory=dict)


def refuse(code: int, reason: str) -> Outcome:
    return Outcome(code, reason)


class Application(Protocol):
    def check(self, tx: DecodedTx) -> str | None:
        """Stateless admission check; a reason refuses the tx before it reaches a block."""
        ...

    def apply(self, state: StateReader, tx: DecodedTx, ctx: BlockContext) -> Outcome: ...


class TxState:
    """Typed reads and staged writes of protobuf records for one tx."""

    def __init__(self, state: StateReader) -> None:
        self._state = state
        self.writes: dict[bytes, bytes | None] = {}

    def get_raw(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self._state.get(key)

    def get(self, key: bytes, kind: type[M]) -> M | None:
        raw = self.get_raw(key)
        if raw is None:
            return None
        return kind.FromString(raw)

    def put(self, key: bytes, record: Message) -> None:
        self.writes[key] = record.SerializeToString(deterministic=True)

    def put_raw(self, key: bytes, value: bytes | None) -> None:
        self.writes[key] = value

    def done(self) -> Outcome:
        return Outcome(writes=self.writes)


def parse_payload(tx: DecodedTx, kind: type[M]) -> M | None:
    try:
        return kind.FromString(tx.body.payload)
    except DecodeError:
        return None


def key(*parts: str | bytes) -> bytes:
    """A state key from parts joined by 0x00 (parts must not contain 0x00)."""
    return b"\x00".join(p.encode() if isinstance(p, str) else p for p in parts)


class ShapedApplication:
    """Common front of an application whose txs are (message kind, shape check, handler):
    `check` refuses unknown types and payloads that do not parse or are misshapen, and
    `apply` does the same with result codes before calling the type's handler."""

    shapes: Mapping[str, tuple[type[Message], Callable[[Message], str | None]]] = {}
    handlers: Mapping[str, Callable[..., Outcome]] = {}

    def _parsed(self, tx: DecodedTx) -> tuple[int, str] | Message:
        shape = self.shapes.get(tx.body.type)
        if shape is None:
            return UNKNOWN_TYPE, f"unknown type {tx.body.type!r}"
        kind, problem_of = shape
        msg = parse_payload(tx, kind)
        if msg is None:
            return BAD_PAYLOAD, f"payload is not a {kind.__name__}"
        problem = problem_of(msg)
        if problem:
            return BAD_PAYLOAD, problem
        return msg

    def check(self, tx: DecodedTx) -> str | None:
        """Stateless: a known type whose payload parses and has the right shape."""
        parsed = self._parsed(tx)
        return parsed[1] if isinstance(parsed, tuple) else None

    def apply(self, state: StateReader, tx: DecodedTx, ctx: BlockContext) -> Outcome:
        parsed = self._parsed(tx)
        if isinstance(parsed, tuple):
            return refuse(*parsed)
        return self.handlers[tx.body.type](state, tx, parsed, ctx)
