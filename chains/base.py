"""The interface between the executor and a channel's application, the one dispatch
every application uses (`TxApplication`, see "dispatch" below), and shared helpers.

An application sees one committed tx at a time, with read access to its channel's world
state as of that point in the block and a `BlockContext` (height, the block's timestamp,
the consortium's departments with their tx keys as of the block's start). It returns a
result code and the writes to make. Applications read only their own channel: channels
are separate ledgers with separate consensus, so another channel's state is not
deterministic at execution time. Rules that span channels are checked by the providing
node at pull time, on committed state, and that decision is itself a transaction (see
node/datashare_api.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol, TypeVar

from google.protobuf.message import DecodeError, Message

from chains.codes import BAD_PAYLOAD, OK, UNKNOWN_TYPE
from chains.tx import DecodedTx
from consensus.hashing import SHA256, Hashing

M = TypeVar("M", bound=Message)


class StateReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    keys: frozenset[bytes]
    roles: frozenset[str]
    # The department that operates this terminal entry and alone may remove it: set by
    # `registry.add_terminal` (chains/registry.py) or the genesis entry's "operator"; ""
    # for a department, and for a genesis terminal entry that names none.
    operator: str = ""
    # The keys this terminal entry had when its department removed it: they sign nothing
    # and may never be added or rotated to again (chains/registry.py).
    removed: frozenset[bytes] = frozenset()


@dataclass(frozen=True)
class Departments:
    """The consortium's departments and their tx-signing keys: the channel genesis's, with
    the keys rotated since on this channel and the terminal entries added or emptied since
    (chains/registry.py)."""

    by_id: Mapping[str, Department] = field(default_factory=dict)

    @classmethod
    def from_params(cls, entries: list[dict]) -> Departments:
        out = {}
        for e in entries:
            keys = frozenset(bytes.fromhex(k) for k in e.get("keys", []))
            roles = frozenset(e.get("roles", []))
            name = e.get("name", e["id"])
            out[e["id"]] = Department(e["id"], name, keys, roles, e.get("operator", ""))
        return cls(out)

    def of_signer(self, key: bytes) -> Department | None:
        for dept in self.by_id.values():
            if key in dept.keys:
                return dept
        return None

    def with_keys(self, keys: Mapping[str, frozenset[bytes]]) -> Departments:
        """These departments with the tx keys of those named in `keys` replaced (a key
        rotation or a removed terminal, chains/registry.py); names, roles and operators stay
        as they were."""
        out = dict(self.by_id)
        for dept_id, dept_keys in keys.items():
            if dept_id in out:
                d = out[dept_id]
                out[dept_id] = replace(d, keys=frozenset(dept_keys))
        return Departments(out)

    def ever_held(self, key: bytes) -> Department | None:
        """The entry that holds `key` now or held it until its removal."""
        return self.of_signer(key) or next(
            (d for d in self.by_id.values() if key in d.removed), None
        )

    def with_entry(self, dept: Department) -> Departments:
        """These departments and `dept` (a terminal entry a department added)."""
        return Departments({**self.by_id, dept.id: dept})


@dataclass(frozen=True)
class BlockContext:
    height: int
    timestamp_ms: int
    departments: Departments
    # The channel's suite hash and Merkle tree (SHA-256, or SM3 on `sm2-sm3`): what an
    # application hashes with, e.g. a license's items root (node/executor.py sets it).
    hashing: Hashing = SHA256


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


class Refusal(Exception):
    """Raised by a handler, or a check it calls, to refuse its tx. The dispatcher turns it
    into an Outcome with this code and reason, and the tx's staged writes are dropped: a
    handler may refuse at any point without undoing what it staged."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class TxState:
    """One tx's view of its channel: the state as of this point in the block plus the
    writes the tx has staged. It is itself a `StateReader`, so the public query helpers
    of an application serve its handlers too, and see what the tx already staged."""

    def __init__(self, state: StateReader) -> None:
        self._state = state
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self._state.get(key)

    def read(self, key: bytes, kind: type[M]) -> M | None:
        return read_record(self, key, kind)

    def put(self, key: bytes, record: Message) -> None:
        self.writes[key] = record.SerializeToString(deterministic=True)

    def put_raw(self, key: bytes, value: bytes | None) -> None:
        self.writes[key] = value

    def done(self) -> Outcome:
        return Outcome(writes=self.writes)


def read_record(state: StateReader, key: bytes, kind: type[M]) -> M | None:
    """The record under `key` parsed as a `kind`, or None."""
    raw = state.get(key)
    return None if raw is None else kind.FromString(raw)


def parse_payload(tx: DecodedTx, kind: type[M]) -> M | None:
    try:
        return kind.FromString(tx.body.payload)
    except DecodeError:
        return None


# World-state keys that begin with 0x00 belong to the node (the validator set and the
# write policy a node loads at restart, written by governance). No application may write
# one: the executor refuses a tx whose writes touch it, and kv refuses such keys itself.
NODE_KEY_PREFIX = b"\x00"


def is_node_key(k: bytes) -> bool:
    return k.startswith(NODE_KEY_PREFIX)


def key(*parts: str | bytes) -> bytes:
    """A state key from parts joined by 0x00 (parts must not contain 0x00)."""
    return b"\x00".join(p.encode() if isinstance(p, str) else p for p in parts)


# ------------------------------------------------------------------ dispatch
#
# Every application declares its tx types (`TxType`: name, payload message, stateless
# shape check) and, for each, one module-level handler named `process_<name after the
# dot>`, in the manner of the consensus specs' `process_<operation>(state, operation)`:
#
#     def process_register_terminal(state: TxState, tx: DecodedTx, msg: Terminal,
#                                   ctx: BlockContext) -> None
#
# A handler reads and stages writes through `state`, and raises `Refusal` to refuse.
# `dispatch_table` pairs types with handlers once, at import, so a type without its
# handler (or a handler without its type) fails the import, not a block.

Handler = Callable[[TxState, DecodedTx, Any, BlockContext], None]
HANDLER_PREFIX = "process_"


@dataclass(frozen=True)
class TxType:
    """One tx type of an application: `TxBody.type`, its payload message, and the
    stateless shape check both admission and execution run (None: any payload that
    parses; a reason refuses it as BAD_PAYLOAD)."""

    name: str
    kind: type[Message]
    shape: Callable[[Any], str | None] | None = None


@dataclass(frozen=True)
class Route:
    tx_type: TxType
    handler: Handler


def handler_name(tx_type: str) -> str:
    """`catalog.publish_entry` -> `process_publish_entry`."""
    return HANDLER_PREFIX + tx_type.partition(".")[2]


def dispatch_table(tx_types: Iterable[TxType], namespace: Mapping[str, Any]) -> dict[str, Route]:
    """Pair each tx type with its module's `process_<type>` handler (`namespace` is the
    module's `globals()`). Raises TypeError if a type is declared twice, has no handler
    or shares one with another type, or if the module defines a `process_` function that
    handles no type: every type has exactly one handler and every handler one type."""
    module = namespace["__name__"]
    defined = {
        name
        for name, value in namespace.items()
        if name.startswith(HANDLER_PREFIX)
        and callable(value)
        and getattr(value, "__module__", None) == module
    }
    table: dict[str, Route] = {}
    claimed: set[str] = set()
    for tx_type in tx_types:
        name = handler_name(tx_type.name)
        if tx_type.name in table:
            raise TypeError(f"{module}: tx type {tx_type.name!r} is declared twice")
        if name in claimed:
            raise TypeError(f"{module}: two tx types would share the handler {name}")
        if name not in defined:
            raise TypeError(f"{module}: tx type {tx_type.name!r} has no handler {name}")
        claimed.add(name)
        table[tx_type.name] = Route(tx_type, namespace[name])
    unclaimed = sorted(defined - claimed)
    if unclaimed:
        raise TypeError(f"{module}: {', '.join(unclaimed)} handle no declared tx type")
    return table


class TxApplication:
    """The one front every application shares: route by `TxBody.type` (UNKNOWN_TYPE),
    run the `gate` on the signer, parse the payload and check its shape (BAD_PAYLOAD),
    then call the handler with a fresh `TxState` and return its staged writes, or the
    `Refusal` it raised with no writes. `check` (admission) runs the stateless part."""

    routes: ClassVar[Mapping[str, Route]] = {}

    def gate(self, tx: DecodedTx, ctx: BlockContext) -> None:
        """A check of the signer made before the payload is read (raise `Refusal`), so an
        outsider learns nothing of what its payload would have done. None by default."""

    def unparsable(self, kind: type[Message], admission: bool) -> str | None:
        """The reason given for a payload that is not a `kind`, at admission or execution;
        None admits it at admission (execution refuses it then)."""
        return f"payload is not a {kind.DESCRIPTOR.name}"

    def _route(self, tx: DecodedTx) -> Route:
        route = self.routes.get(tx.body.type)
        if route is None:
            raise Refusal(UNKNOWN_TYPE, f"unknown type {tx.body.type!r}")
        return route

    def _payload(self, route: Route, tx: DecodedTx, admission: bool) -> Message | None:
        kind, shape = route.tx_type.kind, route.tx_type.shape
        msg = parse_payload(tx, kind)
        if msg is None:
            reason = self.unparsable(kind, admission)
            if reason is None:
                return None
            raise Refusal(BAD_PAYLOAD, reason)
        problem = shape(msg) if shape is not None else None
        if problem:
            raise Refusal(BAD_PAYLOAD, problem)
        return msg

    def check(self, tx: DecodedTx) -> str | None:
        """Stateless admission: a known type whose payload parses and has the right shape."""
        try:
            self._payload(self._route(tx), tx, admission=True)
        except Refusal as r:
            return r.reason
        return None

    def apply(self, state: StateReader, tx: DecodedTx, ctx: BlockContext) -> Outcome:
        view = TxState(state)
        try:
            route = self._route(tx)
            self.gate(tx, ctx)
            msg = self._payload(route, tx, admission=False)
            route.handler(view, tx, msg, ctx)
        except Refusal as r:
            return refuse(r.code, r.reason)
        return view.done()
