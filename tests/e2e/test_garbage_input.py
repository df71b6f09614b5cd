"""Garbage and floods from outside: a clear status, exact counts, and a quiet log.

Requests are sent as raw bytes (identity serializers) so the garbage reaches the server
exactly as written, the way a broken or hostile client in another language would send it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import structlog

from consensus.actions import Reject
from consensus.crypto import Ed25519Signer
from consensus.reasons import Reason
from node.config import load_config, load_key
from node.transport import make_hello
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from tests.e2e.inprocess import make_net, running, status, until

GARBAGE = (b"\xff\xff\xff", b"\x0a\x05ab", b"\x12\x80")


def test_garbage_requests_get_invalid_argument_and_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: UNKNOWN, and gRPC logged a traceback for every request."""
    dirs = make_net(tmp_path / "net")

    async def main() -> None:
        with structlog.testing.capture_logs() as logs:
            async with (
                running(dirs[0]) as node,
                grpc.aio.insecure_channel(node.config.listen) as channel,
            ):
                for method in ("SubmitTransactions", "GetBlock", "GetStatus"):
                    call = channel.unary_unary(f"/govchain.api.Client/{method}")
                    for garbage in GARBAGE:
                        with pytest.raises(grpc.aio.AioRpcError) as e:
                            await call(garbage, timeout=5)
                        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method
                        assert "does not decode" in e.value.details()
                stream = channel.stream_unary("/govchain.api.Peer/Stream")

                async def frames() -> AsyncIterator[bytes]:
                    for garbage in GARBAGE:
                        yield garbage

                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await stream(frames(), timeout=5)
                assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert (await status(node)).channels[0].height == 0  # still answers
                assert sum(node.undecodable.values()) == 3 * len(GARBAGE) + 1
        lines = [e for e in logs if e["event"] == "request does not decode"]
        assert 1 <= len(lines) <= 2  # one per connection and interval (1 conn here)
        grpc_errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert grpc_errors == [], [r.getMessage()[:200] for r in grpc_errors]

    asyncio.run(main())


def test_a_flood_of_refused_envelopes_is_counted_exactly_and_logged_sparingly(
    tmp_path: Path,
) -> None:
    """Before: one log line per refused envelope (120 MB of log in two minutes)."""
    root = tmp_path / "net"
    dirs = make_net(root)
    peer = Ed25519Signer(load_key(load_config(dirs[1] / "config.toml").key_file))
    flood = 2_000

    async def main() -> None:
        with structlog.testing.capture_logs() as logs:
            async with (
                running(dirs[0]) as node,
                grpc.aio.insecure_channel(node.config.listen) as channel,
            ):
                runtime = node.channels["license"].runtime

                async def frames() -> AsyncIterator[api.PeerFrame]:
                    yield api.PeerFrame(
                        hello=make_hello(node.config.chain_id, peer, node.public_key)
                    )
                    for _ in range(flood // 100):
                        batch = api.ConsensusBatch(channel="license", envelopes=[b"\xff"] * 100)
                        yield api.PeerFrame(consensus=batch)

                await api_grpc.PeerStub(channel).Stream(frames(), timeout=10)
                await until(
                    lambda: runtime.rejected.get(Reason.MALFORMED, 0) == flood, 5, "all counted"
                )
                # Refusals the core reports (Reject actions) are sampled the same way.
                for _ in range(flood):
                    runtime._carry_out(Reject(peer.public_key, "prepare", Reason.STALE_VIEW))
                assert runtime.rejected[Reason.STALE_VIEW] == flood
        refused = [e for e in logs if e["event"] in ("envelope refused", "rejected")]
        assert 2 <= len(refused) <= 4, len(refused)

    asyncio.run(main())
