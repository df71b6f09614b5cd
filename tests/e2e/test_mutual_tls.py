"""Mutual TLS between real node processes: only the consortium gets in, and a validator's
certificate must match the key it speaks for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import nacl.signing
import pytest

from client.connection import client_tls, connect, open_channel
from client.tls import TlsFiles
from consensus.crypto import Ed25519Signer
from node.config import load_key
from node.tls import Authority, write_pair
from node.transport import make_hello
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from tests.e2e.harness import Testnet, wait_for


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Testnet]:
    t = Testnet(tmp_path / "net", channels=("license",))
    try:
        t.start_all()
        yield t
    finally:
        t.stop_all()


def _node_tls(net: Testnet, i: int) -> TlsFiles:
    return client_tls(net.root / "tls", net.configs[i].node_id)


def test_peers_connect_over_tls_and_outsiders_are_kept_out(net: Testnet, tmp_path: Path) -> None:
    wait_for(lambda: net.status(0)["license"].peers_connected == 3, 30, "peers connected over TLS")
    height = net.status(0)["license"].height
    # Plaintext to a TLS node: no connection at all.
    with pytest.raises(grpc.RpcError) as plain:
        connect(net.address(0)).GetStatus(api.GetStatusRequest(), timeout=3)
    assert plain.value.code() == grpc.StatusCode.UNAVAILABLE
    # A certificate from another CA: no connection either.
    other = Authority.create("elsewhere")
    other.write(tmp_path / "ca.crt", tmp_path / "ca.key")
    write_pair(tmp_path / "x.crt", tmp_path / "x.key", other.issue_client("x"))
    rogue = TlsFiles(net.root / "tls" / "ca.crt", tmp_path / "x.crt", tmp_path / "x.key")
    with pytest.raises(grpc.RpcError) as foreign:
        connect(net.address(0), rogue).GetStatus(api.GetStatusRequest(), timeout=3)
    assert foreign.value.code() == grpc.StatusCode.UNAVAILABLE
    # A consortium client certificate reaches the Client service, not the Peer service.
    peer_as_client = api_grpc.PeerStub(net.channel(0))
    with pytest.raises(grpc.RpcError) as fetch:
        peer_as_client.FetchBlocks(
            api.FetchBlocksRequest(channel="license", from_height=1, to_height=1), timeout=5
        )
    assert fetch.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "peer refused" in net.log(0)
    # Node 0 still serves and nothing moved.
    assert net.status(0)["license"].height >= height


def test_a_certificate_bound_to_another_validator_key_is_refused(net: Testnet) -> None:
    """Node 1's certificate, but a hello signed with node 2's validator key."""
    node2_key = load_key(net.configs[2].key_file)
    hello = make_hello(net.chain_id, Ed25519Signer(node2_key), load_public(net, 0))
    as_node1 = api_grpc.PeerStub(open_channel(net.address(0), _node_tls(net, 1)))
    with pytest.raises(grpc.RpcError) as refused:
        as_node1.Stream(iter([api.PeerFrame(hello=hello)]), timeout=5)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "another validator key" in (refused.value.details() or "")
    wait_for(
        lambda: "certificate bound to another validator key" in net.log(0), 10, "refusal logged"
    )
    # With node 2's own certificate the same hello is accepted: the stream runs until
    # our frames end, and the node acknowledges it.
    as_node2 = api_grpc.PeerStub(open_channel(net.address(0), _node_tls(net, 2)))
    ack = as_node2.Stream(iter([api.PeerFrame(hello=hello)]), timeout=5)
    assert isinstance(ack, api.PeerAck)


def load_public(net: Testnet, i: int) -> bytes:
    return bytes(nacl.signing.SigningKey(load_key(net.configs[i].key_file)).verify_key)


def test_an_insecure_testnet_works_and_says_so_loudly(tmp_path: Path) -> None:
    t = Testnet(tmp_path / "net", validators=1, channels=("license",), insecure=True)
    try:
        assert t.tls is None and not (tmp_path / "net" / "tls").exists()
        t.start_all()
        assert t.status(0)["license"].height >= 0
        wait_for(lambda: "INSECURE MODE" in t.log(0), 10, "the insecure warning")
    finally:
        t.stop_all()
