"""Calls in flight per caller: no client can take the capacity of the others or of the
validators.

gRPC's `maximum_concurrent_rpcs` is one counter for the whole server: one client holding
about a thousand StreamBlocks streams used to exhaust it, and then every other client and
every validator's FetchBlocks was refused. The node no longer sets it. Instead an
interceptor counts each call while it runs, by who makes it, before any handler runs (for
every service: Client, Peer, DataShare, health, reflection):

- a client certificate: at most `client_calls_max` unary calls and `client_streams_max`
  streaming calls (StreamBlocks, PullMaterials, health Watch, reflection) at once;
- all clients together: at most `all_clients_calls_max`. A caller is remembered only while
  it has a call in flight, so this also bounds the memory of the table;
- a validator of a channel served here (its certificate's key in a current or next set):
  at most `peer_calls_max`, counted apart from the clients, so clients can never take the
  validators' capacity, and all validators together at most that times their number. A
  validator certificate outside those sets (a node about to join, a removed one) is a
  client here.

Without TLS (development only) a client is its IP address and a peer is a connection to
the Peer service. A call over a bound is refused with RESOURCE_EXHAUSTED at once, counted
by pool and kind, and logged at most once per caller every LOG_EVERY_S with the count.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
import structlog

from node.config import Limits
from node.interceptors import WrappingInterceptor
from node.tls import peer_common_name, validator_key_of_peer

if TYPE_CHECKING:
    from node.node import Node

log = structlog.get_logger("calls")

PEER_SERVICE_PREFIX = "/govchain.api.Peer/"
LOG_EVERY_S = 10.0
LOGGED_CALLERS_MAX = 10_000  # refusal counts waiting for their log line
CALLS, STREAMS = "calls", "streams"


@dataclass(frozen=True)
class Caller:
    pool: str  # "client" or "peer"
    key: str  # the certificate (fingerprint), validator key or address it is counted by
    name: str  # for messages and logs: the certificate's common name, or the address


class Pool:
    """Calls in flight by caller and kind, under a bound per caller and kind and one for
    the whole pool. Only callers with a call in flight are kept."""

    def __init__(
        self, name: str, per_caller_max: dict[str, int], total_max: Callable[[], int]
    ) -> None:
        self.name = name
        self.per_caller_max = per_caller_max
        self.total_max = total_max
        self.in_flight: dict[tuple[str, str], int] = {}
        self.total = 0

    def counted_as(self, kind: str) -> str:
        """A pool with one bound per caller (the peers') counts calls and streams together."""
        return kind if kind in self.per_caller_max else next(iter(self.per_caller_max))

    def take(self, key: str, kind: str) -> str | None:
        """Count one more call of `kind` for `key`; why not, if over a bound."""
        kind = self.counted_as(kind)
        count = self.in_flight.get((key, kind), 0)
        if count >= self.per_caller_max[kind]:
            return f"{self.per_caller_max[kind]} {kind} in flight, this {self.name}'s bound"
        if self.total >= self.total_max():
            return f"{self.total} calls in flight, the bound of all {self.name}s together"
        self.in_flight[(key, kind)] = count + 1
        self.total += 1
        return None

    def give_back(self, key: str, kind: str) -> None:
        kind = self.counted_as(kind)
        count = self.in_flight[(key, kind)] - 1
        if count:
            self.in_flight[(key, kind)] = count
        else:
            del self.in_flight[(key, kind)]
        self.total -= 1


class CallLimits(WrappingInterceptor):
    """Wraps every handler of the server so that it runs only within its caller's bounds."""

    def __init__(
        self, limits: Limits, tls: bool, known_validators: Callable[[], set[bytes]]
    ) -> None:
        super().__init__()
        self.tls = tls
        self.known_validators = known_validators
        per_client = {CALLS: limits.client_calls_max, STREAMS: limits.client_streams_max}
        per_peer = {"calls and streams": limits.peer_calls_max}
        self.pools = {
            "client": Pool("client", per_client, lambda: limits.all_clients_calls_max),
            "peer": Pool(
                "peer", per_peer, lambda: limits.peer_calls_max * max(1, len(known_validators()))
            ),
        }
        self.refused: Counter[tuple[str, str]] = Counter()  # (pool, kind) -> calls refused
        self._logged: dict[str, tuple[int, float]] = {}  # caller key -> (unlogged, when)

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """The same handler, taking a slot before it runs and giving it back when it ends
        (returns, fails or is cancelled). Every handler on this server is async (grpc.aio):
        a coroutine, or an async generator for a streamed response."""
        streaming = handler.request_streaming or handler.response_streaming
        kind = STREAMS if streaming else CALLS
        attr = ("stream_" if handler.request_streaming else "unary_") + (
            "stream" if handler.response_streaming else "unary"
        )
        inner = getattr(handler, attr)
        if inspect.isasyncgenfunction(inner):

            async def generate(request, context):
                caller = await self._admit(context, method, kind)
                try:
                    async for response in inner(request, context):
                        yield response
                finally:
                    self._release(caller, kind)

            return handler._replace(**{attr: generate})

        async def call(request, context):
            caller = await self._admit(context, method, kind)
            try:
                return await inner(request, context)
            finally:
                self._release(caller, kind)

        assert inspect.iscoroutinefunction(inner), f"{method}: not an async handler"
        return handler._replace(**{attr: call})

    def caller_of(self, context: grpc.aio.ServicerContext, method: str) -> Caller:
        """Who makes this call, and which pool counts it (see the module docstring)."""
        address = context.peer()
        if not self.tls:
            if method.startswith(PEER_SERVICE_PREFIX):
                return Caller("peer", address, address)
            host = address.rsplit(":", 1)[0]
            return Caller("client", host, host)
        key = validator_key_of_peer(context)
        if key is not None and key in self.known_validators():
            return Caller("peer", key.hex(), key.hex()[:16])
        # Each certificate counts apart, even two with one common name.
        pem = b"".join(context.auth_context().get("x509_pem_cert", ()))
        name = peer_common_name(context) or address
        return Caller("client", hashlib.sha256(pem).hexdigest()[:32] if pem else name, name)

    async def _admit(self, context: grpc.aio.ServicerContext, method: str, kind: str) -> Caller:
        caller = self.caller_of(context, method)
        why = self.pools[caller.pool].take(caller.key, kind)
        if why is None:
            return caller
        self.refused[(caller.pool, kind)] += 1
        self._log_refusal(caller, method, why)
        await context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED, f"{caller.pool} {caller.name!r}: {why}; retry later"
        )
        raise AssertionError("abort returned")  # context.abort always raises

    def _release(self, caller: Caller, kind: str) -> None:
        self.pools[caller.pool].give_back(caller.key, kind)

    def _log_refusal(self, caller: Caller, method: str, why: str) -> None:
        now = time.monotonic()
        count, logged = self._logged.get(caller.key, (0, -LOG_EVERY_S))
        count += 1
        if now - logged >= LOG_EVERY_S:
            log.warning(
                "calls refused", caller=caller.name, pool=caller.pool, method=method,
                why=why, refused=count,
            )  # fmt: skip
            count, logged = 0, now
        self._logged[caller.key] = (count, logged)
        if len(self._logged) > LOGGED_CALLERS_MAX:
            self._logged.pop(next(iter(self._logged)))  # the oldest refused caller


async def guard_call(node: Node, context: grpc.aio.ServicerContext) -> str:
    """Refuse a call over its connection's rate with RESOURCE_EXHAUSTED; the caller's
    name (certificate common name, or address without TLS) for per-client limits."""
    if not node.call_limiter.allow(context.peer()):
        await context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"over {node.call_limiter.rate:.0f} calls/s on this connection; retry later",
        )
    name = peer_common_name(context)
    return name if name is not None else context.peer().rsplit(":", 1)[0]
