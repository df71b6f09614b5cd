"""The revocation guard (node/crl.py) on a real gRPC server with real certificates: a
revoked client is refused UNAUTHENTICATED on its next call, an open stream is cut at its
next message in either direction, and another client goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from client.tls import TlsFiles
from node.crl import CRL_FILE, RevocationGuard, RevocationList, revoked_entry, sign_crl
from node.logsampling import SampledLog
from node.tls import Authority, write_pair

NAMES = ("server", "alice", "bob")


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, TlsFiles]:
    ca = Authority.create("chain-x")
    ca.write(tmp_path / "ca.crt", tmp_path / "ca.key")
    write_pair(
        tmp_path / "server.crt",
        tmp_path / "server.key",
        ca.issue_node("s", b"k" * 32, ["127.0.0.1"]),
    )
    for name in NAMES[1:]:
        write_pair(tmp_path / f"{name}.crt", tmp_path / f"{name}.key", ca.issue_client(name))
    (tmp_path / CRL_FILE).write_bytes(sign_crl(ca, [], 1))
    return {
        n: TlsFiles(tmp_path / "ca.crt", tmp_path / f"{n}.crt", tmp_path / f"{n}.key")
        for n in NAMES
    }


def revoke(files: TlsFiles) -> None:
    """What `govchain ca revoke` does, without the CLI: a new CRL with the certificate."""
    from cryptography import x509

    ca = Authority.load(files.ca, files.ca.with_suffix(".key"))
    serial = x509.load_pem_x509_certificate(files.cert.read_bytes()).serial_number
    files.ca.with_name(CRL_FILE).write_bytes(sign_crl(ca, [revoked_entry(serial, None)], 2))


class Methods:
    """Two methods of a test service, written as the node's are (async functions and
    async generators): one counts the frames of a request stream, one answers a stream."""

    def __init__(self) -> None:
        self.first = asyncio.Event()  # set when the first request frame arrives
        self.ticks: asyncio.Queue[bytes] = asyncio.Queue()  # one answer per item

    async def count_frames(self, requests, context) -> bytes:
        n = 0
        async for _ in requests:
            n += 1
            self.first.set()
        return str(n).encode()

    async def answers(self, request, context):
        while True:
            yield await self.ticks.get()

    def handler(self) -> grpc.GenericRpcHandler:
        methods = {
            "C": grpc.stream_unary_rpc_method_handler(self.count_frames),
            "W": grpc.unary_stream_rpc_method_handler(self.answers),
        }
        return grpc.method_handlers_generic_handler("t.T", methods)


def test_a_revoked_client_is_refused_and_its_streams_cut(pki) -> None:
    asyncio.run(_guarded(pki))


async def _guarded(pki: dict[str, TlsFiles]) -> None:
    test = Methods()
    crl = RevocationList(pki["server"].ca.with_name(CRL_FILE), pki["server"].ca)
    guard = RevocationGuard(crl, SampledLog(structlog.get_logger("test"), 10.0))
    server = grpc.aio.server(interceptors=[guard])
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_generic_rpc_handlers([test.handler()])
    port = server.add_secure_port("127.0.0.1:0", pki["server"].server_credentials())
    await server.start()
    try:
        alice, bob = (
            grpc.aio.secure_channel(f"127.0.0.1:{port}", pki[n].channel_credentials())
            for n in ("alice", "bob")
        )
        check = health_pb2.HealthCheckRequest()
        assert (await health_pb2_grpc.HealthStub(alice).Check(check)).status
        watch = alice.unary_stream("/t.T/W")(b"")
        test.ticks.put_nowait(b"1")
        assert await watch.read() == b"1"  # the stream is open and has answered once
        frames = alice.stream_unary("/t.T/C")()
        await frames.write(b"1")
        await asyncio.wait_for(test.first.wait(), 10)
        revoke(pki["alice"])
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health_pb2_grpc.HealthStub(alice).Check(check)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "revoked" in (refused.value.details() or "")
        # The open streams: the next message either way is refused.
        test.ticks.put_nowait(b"2")
        with pytest.raises(grpc.aio.AioRpcError) as cut:
            await watch.read()
        assert cut.value.code() == grpc.StatusCode.UNAUTHENTICATED
        await frames.write(b"2")
        with pytest.raises(grpc.aio.AioRpcError) as cut_in:
            await frames
        assert cut_in.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Bob was not revoked.
        assert (await health_pb2_grpc.HealthStub(bob).Check(check)).status
        assert guard.refused == {"client": 3, "validator": 0}
    finally:
        await server.stop(0)
