"""One node of a `testnet init` network, run inside the test's own event loop.

For what a black-box process cannot show: injecting a fault into one component (a
channel's core, a store's writes, a background task) and watching what the node's
public surfaces (gRPC health, GetStatus, SubmitTransactions, metrics, log) say about
it. Its peers are not started; the node is node 0, the primary of view 0.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cli.main import main as cli
from cli.ports import free_port_block
from node.config import load_config
from node.node import Node
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc


def make_net(root: Path, channels: tuple[str, ...] = ("license",)) -> list[Path]:
    """An insecure 4-validator kv testnet; the node directories in listen order."""
    args = ["testnet", "init", "--validators", "4", "--out", str(root), "--insecure"]
    args += ["--base-port", str(free_port_block(6)), "--app", "kv", "--channels", *channels]
    args += ["--metrics-base-port", "0"]
    assert cli(args) == 0
    dirs = [p.parent for p in root.glob("*/config.toml")]
    return sorted(dirs, key=lambda d: load_config(d / "config.toml").listen)


@asynccontextmanager
async def running(node_dir: Path) -> AsyncIterator[Node]:
    node = Node(load_config(node_dir / "config.toml"))
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


async def until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


async def health(node: Node, service: str = "") -> int:
    async with grpc.aio.insecure_channel(node.config.listen) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return reply.status


async def status(node: Node) -> api.GetStatusResponse:
    async with grpc.aio.insecure_channel(node.config.listen) as channel:
        return await api_grpc.ClientStub(channel).GetStatus(api.GetStatusRequest(), timeout=5)


SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
