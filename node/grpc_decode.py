"""Requests that do not decode: INVALID_ARGUMENT, counted, and one sampled log line.

gRPC decodes a request with the generated `FromString` before any handler runs; garbage
bytes made it raise there, and the call ended UNKNOWN with a traceback in the log for
every request or peer-stream frame, which a hostile peer can send by the thousand. This
server interceptor takes each method's request as raw bytes instead and decodes it
itself: a request or stream frame that does not parse ends the call with
INVALID_ARGUMENT, counted per method (`govchain_undecodable_requests_total`) and logged
once per caller address and interval. Handlers still receive decoded messages.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from node.interceptors import WrappingInterceptor
from node.logsampling import SampledLog
from node.supervise import describe

Parse = Callable[[bytes], Any]


class StrictDecoding(WrappingInterceptor):
    def __init__(self, counts: Counter[str], log: SampledLog) -> None:
        super().__init__()
        self.counts = counts
        self.log = log

    async def _decode(self, parse: Parse, raw: bytes, method: str, context: Any) -> Any:
        try:
            return parse(raw)
        except Exception as e:  # whatever the parser raises, the bytes are the caller's fault
            self.counts[method] += 1
            who = context.peer().rsplit(":", 1)[0]  # the address, not one key per port
            self.log.warning(
                who, "request does not decode", method=method, peer=who, error=describe(e)
            )
            kind = getattr(getattr(parse, "__self__", None), "DESCRIPTOR", None)
            name = kind.full_name if kind is not None else "its request type"
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"the request does not decode as {name}"
            )

    async def _frames(
        self, parse: Parse, raws: AsyncIterator[bytes], method: str, context: Any
    ) -> AsyncIterator[Any]:
        async for raw in raws:
            yield await self._decode(parse, raw, method, context)

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        parse = handler.request_deserializer
        if parse is None:
            return handler  # raw bytes already
        streaming_in, streaming_out = handler.request_streaming, handler.response_streaming
        behavior = (
            (handler.stream_stream if streaming_out else handler.stream_unary)
            if streaming_in
            else (handler.unary_stream if streaming_out else handler.unary_unary)
        )
        generator = inspect.isasyncgenfunction(behavior)
        if not (generator or inspect.iscoroutinefunction(behavior)):
            return handler  # a synchronous handler: none in this node

        async def request(raw: Any, context: Any) -> Any:
            if streaming_in:
                return self._frames(parse, raw, method, context)
            return await self._decode(parse, raw, method, context)

        if generator:

            async def call(raw: Any, context: Any) -> Any:
                async for item in behavior(await request(raw, context), context):
                    yield item
        else:

            async def call(raw: Any, context: Any) -> Any:
                return await behavior(await request(raw, context), context)

        make = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(streaming_in, streaming_out)]
        return make(call, response_serializer=handler.response_serializer)
