"""Calls in flight per caller (node/call_limits.py): the pools' arithmetic, and the interceptor on
a real gRPC server with real certificates (health Check and Watch as the unary call and
the stream)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from client.tls import TlsFiles
from node.call_limits import CALLS, STREAMS, CallLimits, Pool
from node.config import Limits
from node.tls import Authority, write_pair


def test_a_pool_bounds_each_caller_and_kind_and_all_callers_together() -> None:
    pool = Pool("client", {CALLS: 2, STREAMS: 1}, lambda: 4)
    assert pool.take("a", CALLS) is None and pool.take("a", CALLS) is None
    assert "2 calls in flight, this client's bound" in str(pool.take("a", CALLS))
    assert pool.take("a", STREAMS) is None
    assert "1 streams" in str(pool.take("a", STREAMS))
    assert pool.take("b", STREAMS) is None  # another caller has its own bound
    assert "all clients together" in str(pool.take("c", CALLS))  # 4 in flight: full
    pool.give_back("a", CALLS)
    assert pool.take("c", CALLS) is None
    for key, kind in (("a", CALLS), ("a", STREAMS), ("b", STREAMS), ("c", CALLS)):
        pool.give_back(key, kind)
    assert pool.total == 0 and pool.in_flight == {}  # idle callers are forgotten


def test_a_pool_with_one_bound_counts_calls_and_streams_together() -> None:
    pool = Pool("peer", {"calls and streams": 2}, lambda: 10)
    assert pool.take("v", CALLS) is None and pool.take("v", STREAMS) is None
    assert pool.take("v", CALLS) is not None
    pool.give_back("v", STREAMS)
    assert pool.take("v", STREAMS) is None


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, TlsFiles]:
    ca = Authority.create("chain-x")
    ca.write(tmp_path / "ca.crt", tmp_path / "ca.key")
    validator = os.urandom(32)
    pairs = {
        "server": ca.issue_node("server", os.urandom(32), ["127.0.0.1"]),
        "validator": ca.issue_node("validator", validator, ["127.0.0.1"]),
        "twin-1": ca.issue_client("twin"),  # two certificates, one common name
        "twin-2": ca.issue_client("twin"),
        "other": ca.issue_client("other"),
    }
    out = {}
    for name, pair in pairs.items():
        write_pair(tmp_path / f"{name}.crt", tmp_path / f"{name}.key", pair)
        out[name] = TlsFiles(
            tmp_path / "ca.crt", tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
        )
    out["validator_key"] = validator  # type: ignore[assignment]
    return out


def test_each_certificate_has_its_own_bound_and_validators_their_own_pool(pki) -> None:
    asyncio.run(_per_certificate(pki))


async def _per_certificate(pki: dict) -> None:
    limits = Limits(
        client_calls_max=1, client_streams_max=2, all_clients_calls_max=4, peer_calls_max=3
    )
    calls = CallLimits(limits, tls=True, known_validators=lambda: {pki["validator_key"]})
    server = grpc.aio.server(interceptors=[calls])
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_secure_port("127.0.0.1:0", pki["server"].server_credentials())
    await server.start()
    channels: dict[str, grpc.aio.Channel] = {}

    def stub(name: str) -> health_pb2_grpc.HealthStub:
        if name not in channels:
            creds = pki[name].channel_credentials()
            channels[name] = grpc.aio.secure_channel(f"127.0.0.1:{port}", creds)
        return health_pb2_grpc.HealthStub(channels[name])

    async def watch(name: str) -> tuple[object, str]:
        """A Watch stream: OK once its first status arrives, or the refusal's code."""
        call = stub(name).Watch(health_pb2.HealthCheckRequest(service="x"))
        try:
            await call.read()
        except grpc.aio.AioRpcError as e:
            return call, e.code().name
        return call, "OK"

    try:
        held = [await watch("twin-1"), await watch("twin-1")]
        assert [code for _, code in held] == ["OK", "OK"]
        third, code = await watch("twin-1")
        assert code == "RESOURCE_EXHAUSTED"
        assert "2 streams in flight, this client's bound" in (await third.details())
        # The same common name on another certificate is another client.
        held += [await watch("twin-2"), await watch("twin-2")]
        assert [code for _, code in held] == ["OK"] * 4
        # All clients together hold 4: a fifth client call is refused...
        with pytest.raises(grpc.aio.AioRpcError) as full:
            await stub("other").Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "all clients together" in (full.value.details() or "")
        # ... but a validator of a channel served here counts in its own pool.
        peer = [await watch("validator") for _ in range(3)]
        assert [code for _, code in peer] == ["OK"] * 3
        assert (await watch("validator"))[1] == "RESOURCE_EXHAUSTED"
        assert calls.refused == {("client", STREAMS): 1, ("client", CALLS): 1, ("peer", STREAMS): 1}
        # A cancelled stream gives its slot back.
        held[0][0].cancel()
        for _ in range(100):
            if calls.pools["client"].total == 3:
                break
            await asyncio.sleep(0.02)
        assert calls.pools["client"].total == 3
        await stub("other").Check(health_pb2.HealthCheckRequest(), timeout=5)
    finally:
        for channel in channels.values():
            await channel.close()
        await server.stop(None)
