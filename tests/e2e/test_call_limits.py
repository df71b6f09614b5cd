"""Calls in flight per caller, and keepalive, on real node processes: one client
certificate holding many streams locks out neither the other clients nor the validators,
and an idle client keeps its connection."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import nacl.signing
import pytest

from client.connection import MESSAGE_BYTES_MAX, client_tls, load_signing_key, open_channel
from client.tls import TlsFiles
from client.txs import kv_put_tx
from consensus.crypto import Ed25519Signer
from node.config import load_key
from node.tls import Authority, write_pair
from node.transport import make_hello
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from tests.e2e.harness import Testnet, wait_for
from tests.e2e.test_observability import scrape, value

STREAMS_MAX = 20  # per client certificate
ALL_CLIENTS_MAX = 60  # all clients together: three certificates' streams fill it
ALL = [0, 1, 2, 3]
PER_CONNECTION = 80  # under streams_per_connection_max (100), so no stream waits client-side


class Streams:
    """StreamBlocks streams from height 1 opened by one certificate over a few connections:
    an accepted stream delivers block 1 at once, a refused one fails at once."""

    def __init__(self, address: str, tls: TlsFiles, count: int) -> None:
        self.channels: list[grpc.Channel] = []
        self.held: list = []
        self.refused: list[tuple[grpc.StatusCode, str]] = []
        for i in range(count):
            if i % PER_CONNECTION == 0:
                self.channels.append(open_channel(address, tls))
            stub = api_grpc.ClientStub(self.channels[-1])
            stream = stub.StreamBlocks(api.StreamBlocksRequest(channel="license", from_height=1))
            try:
                assert next(stream).height == 1
                self.held.append(stream)
            except grpc.RpcError as e:
                self.refused.append((e.code(), e.details() or ""))

    def close(self) -> None:
        for stream in self.held:
            stream.cancel()
        for channel in self.channels:
            channel.close()


def _issue_client(net: Testnet, name: str) -> TlsFiles:
    tls_dir = net.root / "tls"
    ca = Authority.load(tls_dir / "ca.crt", tls_dir / "ca.key")
    write_pair(tls_dir / f"{name}.crt", tls_dir / f"{name}.key", ca.issue_client(name))
    return client_tls(tls_dir, name)


def _validator_reaches(net: Testnet, frm: int, to: int) -> None:
    """Validator `frm`, with its own certificate, fetches a block from `to` and opens a
    peer stream to it (signed hello); both must be served."""
    tls = client_tls(net.root / "tls", net.configs[frm].node_id)
    peer = api_grpc.PeerStub(open_channel(net.address(to), tls))
    fetched = peer.FetchBlocks(
        api.FetchBlocksRequest(channel="license", from_height=1, to_height=1), timeout=5
    )
    assert len(fetched.blocks) == 1
    receiver = bytes(nacl.signing.SigningKey(load_key(net.configs[to].key_file)).verify_key)
    hello = make_hello(net.chain_id, Ed25519Signer(load_key(net.configs[frm].key_file)), receiver)
    assert isinstance(peer.Stream(iter([api.PeerFrame(hello=hello)]), timeout=5), api.PeerAck)


def _commits(net: Testnet, via: api_grpc.ClientStub, key: bytes, nodes: list[int]) -> None:
    """A tx submitted through `via` commits on `nodes`."""
    signer = load_signing_key(net.client_key)
    tx = kv_put_tx(signer, net.chain_id, "license", key, b"v")
    (result,) = via.SubmitTransactions(api.SubmitRequest(txs=[tx]), timeout=5).results
    assert result.status == api.ACCEPTED

    def everywhere() -> bool:
        for i in nodes:
            got = net.stub(i).GetState(api.GetStateRequest(channel="license", key=key), timeout=5)
            if not got.found:
                return False
        return True

    wait_for(everywhere, 30, f"{key!r} committed on nodes {nodes}")


def test_one_client_holding_many_streams_locks_out_neither_clients_nor_validators(
    tmp_path: Path,
) -> None:
    limits = {"client_streams_max": STREAMS_MAX, "all_clients_calls_max": ALL_CLIENTS_MAX}
    net = Testnet(tmp_path / "net", channels=("license",), limits=limits, metrics=True)
    opened: list[Streams] = []
    try:
        net.start_all()
        kiosk = api_grpc.ClientStub(
            open_channel(net.address(0), client_tls(net.root / "tls", "kiosk"))
        )
        _commits(net, kiosk, b"first", ALL)
        # One certificate tries 240 streams: it gets its own bound, the rest is refused.
        flood = Streams(net.address(0), net.tls, 240)  # type: ignore[arg-type]
        opened.append(flood)
        # While it holds them, everyone else is served: another client, a validator, and
        # consensus itself.
        kiosk.GetStatus(api.GetStatusRequest(), timeout=2)
        _validator_reaches(net, 1, 0)
        _commits(net, kiosk, b"second", ALL)
        assert len(flood.held) == STREAMS_MAX, (len(flood.held), flood.refused[:1])
        assert {code for code, _ in flood.refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert f"{STREAMS_MAX} streams" in flood.refused[0][1]
        metrics = scrape(net, 0)
        refused = value(metrics, "govchain_calls_refused_total", pool="client", kind="streams")
        assert refused == len(flood.refused)
        assert value(metrics, "govchain_calls_in_flight", pool="client") >= STREAMS_MAX
        assert value(metrics, "govchain_calls_in_flight", pool="peer") >= 3  # peers' streams
        # Two more certificates fill what all clients together may hold: a new client
        # call waits its turn (refused), but the validators' capacity is their own.
        for name in ("extra-1", "extra-2"):
            more = Streams(net.address(0), _issue_client(net, name), STREAMS_MAX)
            opened.append(more)
            assert len(more.held) == STREAMS_MAX, more.refused[:1]
        with pytest.raises(grpc.RpcError) as full:
            kiosk.GetStatus(api.GetStatusRequest(), timeout=2)
        assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "all clients" in (full.value.details() or "")
        _validator_reaches(net, 2, 0)
        _commits(net, net.stub(1), b"third", [1, 2, 3])
        # Closed streams give their capacity back; node 0 committed meanwhile.
        opened.pop().close()
        wait_for(lambda: _serves(kiosk), 10, "the kiosk served again once streams closed")
        _commits(net, kiosk, b"fourth", ALL)
        assert kiosk.GetState(api.GetStateRequest(channel="license", key=b"third")).found
        log = net.log(0)
        assert "calls refused" in log
        assert log.count("calls refused") < 10  # once per caller per interval
    finally:
        for streams in opened:
            streams.close()
        net.stop_all()


def _serves(stub: api_grpc.ClientStub) -> bool:
    try:
        stub.GetStatus(api.GetStatusRequest(), timeout=2)
    except grpc.RpcError:
        return False
    return True


KEEPALIVE_MS = 1_000
IDLE_S = 10.0  # ten pings; a server refusing idle pings sends GOAWAY after the third


def test_an_idle_client_pinging_every_second_keeps_its_connection(tmp_path: Path) -> None:
    """gRPC's server answers too frequent pings on an idle connection with GOAWAY
    too_many_pings; the node must accept our clients' keepalive (channel_options)."""
    net = Testnet(tmp_path / "net", validators=1, channels=("license",))
    try:
        net.start_all()
        options = [
            ("grpc.max_receive_message_length", MESSAGE_BYTES_MAX),
            ("grpc.keepalive_time_ms", KEEPALIVE_MS),
            ("grpc.keepalive_timeout_ms", 5_000),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.keepalive_permit_without_calls", 1),
        ]
        creds = net.tls.channel_credentials()  # type: ignore[union-attr]
        channel = grpc.secure_channel(net.address(0), creds, options=options)
        states: list[grpc.ChannelConnectivity] = []
        channel.subscribe(states.append, try_to_connect=True)
        stub = api_grpc.ClientStub(channel)
        stub.GetStatus(api.GetStatusRequest(), timeout=5)
        ready = grpc.ChannelConnectivity.READY
        assert states[-1] == ready
        # Idle for ten keepalive intervals: the connection must stay READY throughout (a
        # GOAWAY sends the channel to IDLE, and a later call would quietly reconnect).
        deadline = time.monotonic() + IDLE_S
        while time.monotonic() < deadline:
            assert states[-1] == ready, states
            time.sleep(0.1)
        stub.GetStatus(api.GetStatusRequest(), timeout=5)
        assert states[states.index(ready) :] == [ready], states
        channel.unsubscribe(states.append)
        channel.close()
    finally:
        net.stop_all()
