"""The one dispatch of chains/base.py: every application's tx types meet exactly one
`process_<type>` handler, paired once at import, and a table that breaks the rule fails
the import instead of a block."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chains.base import (
    BlockContext,
    Departments,
    Refusal,
    TxApplication,
    TxState,
    TxType,
    dispatch_table,
    handler_name,
)
from chains.codes import BAD_PAYLOAD, UNKNOWN_TYPE
from chains.registry import APPLICATIONS, make_application
from chains.tx import DecodedTx, decode_tx, encode_tx
from protos import api_pb2 as api
from protos import kv_pb2
from protos.kv_pb2 import KvPut
from tests.apps import signing_key


def _module(name: str, **handlers: Callable[..., None]) -> dict[str, object]:
    """A module namespace whose `handlers` look defined in module `name`."""
    namespace: dict[str, object] = {"__name__": name}
    for fname, body in handlers.items():

        def handler(state: object, tx: object, msg: object, ctx: object, _body=body) -> None:
            _body(state, tx, msg, ctx)

        handler.__module__, handler.__name__ = name, fname
        namespace[fname] = handler
    return namespace


def _noop(state: object, tx: object, msg: object, ctx: object) -> None:
    return None


def _put_unless_x(state: TxState, tx: object, msg: kv_pb2.KvPut, ctx: object) -> None:
    """Stages its write, then refuses a value of b"x": the refusal must drop the write."""
    state.put_raw(msg.key, msg.value)
    if msg.value == b"x":
        raise Refusal(BAD_PAYLOAD, "no")


PUT = TxType("demo.put", kv_pb2.KvPut)


def test_each_type_is_paired_with_its_process_handler() -> None:
    ns = _module("demo", process_put=_noop)
    table = dispatch_table([PUT], ns)
    assert handler_name("demo.put") == "process_put"
    assert table["demo.put"].handler is ns["process_put"]
    assert table["demo.put"].tx_type is PUT


@pytest.mark.parametrize(
    ("tx_types", "handlers", "problem"),
    [
        ([PUT], {}, "has no handler process_put"),
        ([PUT, PUT], {"process_put": _noop}, "declared twice"),
        ([PUT, TxType("other.put", kv_pb2.KvPut)], {"process_put": _noop}, "share the handler"),
        ([PUT], {"process_put": _noop, "process_get": _noop}, "process_get handle no"),
    ],
)
def test_a_broken_table_fails_at_import(
    tx_types: list[TxType], handlers: dict[str, object], problem: str
) -> None:
    with pytest.raises(TypeError, match=problem):
        dispatch_table(tx_types, _module("demo", **handlers))


def test_imported_process_functions_are_not_handlers() -> None:
    """A `process_` function imported from another module is not this module's handler."""
    ns = _module("demo", process_put=_noop)
    ns["process_elsewhere"] = _module("other", process_elsewhere=_noop)["process_elsewhere"]
    assert set(dispatch_table([PUT], ns)) == {"demo.put"}


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_every_application_uses_the_one_dispatch(name: str) -> None:
    app, _ = make_application({"name": name})
    assert isinstance(app, TxApplication)
    assert app.routes, f"{name} declares no tx types"
    for tx_type, route in app.routes.items():
        assert route.handler.__name__ == handler_name(tx_type)


class _Demo(TxApplication):
    routes = dispatch_table([PUT], _module("demo", process_put=_put_unless_x))


def _tx(type_: str, payload: bytes | KvPut) -> DecodedTx:
    if isinstance(payload, KvPut):
        payload = payload.SerializeToString()
    body = api.TxBody(chain_id="c", channel="demo", type=type_, payload=payload, nonce=1)
    return decode_tx(encode_tx(body, signing_key(1)), "c", 1 << 16)


def test_a_refusal_drops_what_the_handler_staged() -> None:
    ctx = BlockContext(height=1, timestamp_ms=0, departments=Departments())
    ok = _Demo().apply({}, _tx("demo.put", KvPut(key=b"k", value=b"v")), ctx)
    assert (ok.code, dict(ok.writes)) == (0, {b"k": b"v"})
    refused = _Demo().apply({}, _tx("demo.put", KvPut(key=b"k", value=b"x")), ctx)
    assert (refused.code, refused.reason, dict(refused.writes)) == (BAD_PAYLOAD, "no", {})
    unknown = _Demo().apply({}, _tx("demo.get", b""), ctx)
    assert (unknown.code, unknown.reason) == (UNKNOWN_TYPE, "unknown type 'demo.get'")
    assert _Demo().check(_tx("demo.put", b"\xff")) == "payload is not a KvPut"
