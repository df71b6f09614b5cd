"""A server interceptor that wraps each method's handler once, not once per call.

gRPC asks an interceptor for every call's handler; the servicers hand out the same handler
object each time, so the wrapped form is kept per method (and rebuilt only if the handler
changes). Subclasses say how to wrap: node/call_limits.py (calls in flight per caller),
node/crl.py (revoked certificates, through CheckingInterceptor) and
node/grpc_decode.py (requests that do not decode).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

import grpc


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        # method -> (the handler gRPC gave, its wrapped form)
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """The handler to run instead of `handler` (which may be returned unchanged)."""
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return None  # an unknown method: gRPC answers UNIMPLEMENTED
        cached = self._wrapped.get(details.method)
        if cached is None or cached[0] is not handler:
            cached = (handler, self.wrap(handler, details.method))
            self._wrapped[details.method] = cached
        return cached[1]


class CheckingInterceptor(WrappingInterceptor):
    """Runs `check` before every call's handler and again on each streamed message (a
    request received, a response about to be sent) whose `stamp` differs from the one the
    stream was last checked at, so a long-lived stream is held to what is true now, not
    only to what was true when it opened. `check` refuses by aborting the call."""

    async def check(self, context: grpc.aio.ServicerContext, method: str) -> None:
        raise NotImplementedError

    def stamp(self) -> object:
        """What `check`'s verdict depends on (e.g. the CRL in force): a streamed message
        is checked again only when it changed. By default, a new value every time: every
        message is checked."""
        return object()

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        attr = ("stream_" if handler.request_streaming else "unary_") + (
            "stream" if handler.response_streaming else "unary"
        )
        inner = getattr(handler, attr)
        check, stamp = self.check, self.stamp

        def requests_of(request, context, checked_at: object):
            """Each request of a stream, checked again as it arrives if the stamp moved
            since `checked_at` (taken before the call's own check)."""
            if not handler.request_streaming:
                return request

            async def checked():
                at = checked_at
                async for item in request:
                    now = stamp()
                    if now != at:
                        await check(context, method)
                        at = now
                    yield item

            return checked()

        if inspect.isasyncgenfunction(inner):

            async def generate(request, context):
                at = stamp()
                await check(context, method)
                async for response in inner(requests_of(request, context, at), context):
                    now = stamp()
                    if now != at:
                        await check(context, method)
                        at = now
                    yield response

            return handler._replace(**{attr: generate})

        async def call(request, context):
            at = stamp()
            await check(context, method)
            return await inner(requests_of(request, context, at), context)

        assert inspect.iscoroutinefunction(inner), f"{method}: not an async handler"
        return handler._replace(**{attr: call})
