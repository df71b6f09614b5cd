"""A server interceptor that wraps each method's handler once, not once per call.

gRPC asks an interceptor for every call's handler; the servicers hand out the same handler
object each time, so the wrapped form is kept per method (and rebuilt only if the handler
changes). Subclasses say how to wrap: node/call_limits.py (calls in flight per caller) and
node/grpc_decode.py (requests that do not decode).
"""

from __future__ import annotations

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
