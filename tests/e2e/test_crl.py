"""Certificate revocation on real node processes: `govchain ca revoke` while the nodes run,
and each node, re-reading its `[tls] crl`, refuses the revoked certificate on its next
call; another client goes on, and the network goes on without a revoked validator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from cli.main import main as cli
from client.connection import client_tls, connect, load_signing_key
from client.txs import kv_put_tx, submit_and_wait
from node.tls import Authority, write_pair
from protos import api_pb2 as api
from tests.e2e.harness import Testnet, wait_for

CHANNEL = "license"


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Testnet]:
    """A 4-node testnet whose nodes enforce `tls/ca.crl` (empty at start), and a second
    client certificate, `tls/other.*`."""
    t = Testnet(tmp_path / "net", channels=(CHANNEL,), view_change_timeout_ticks=20)
    tls = t.root / "tls"
    assert cli(["ca", "crl", "--ca-dir", str(tls), "--renew"]) == 0
    ca = Authority.load(tls / "ca.crt", tls / "ca.key")
    write_pair(tls / "other.crt", tls / "other.key", ca.issue_client("other"))
    for d in t.dirs:  # testnet init makes every node enforce the CA's (empty) CRL
        assert 'crl = "../tls/ca.crl"' in (d / "config.toml").read_text()
    try:
        t.start_all()
        yield t
    finally:
        t.stop_all()


def revoke(net: Testnet, cert: str) -> None:
    tls = net.root / "tls"
    args = ["--cert", str(tls / cert), "--reason", "key_compromise"]
    assert cli(["ca", "revoke", "--ca-dir", str(tls), *args]) == 0


def test_revoked_client_and_validator_certificates_are_refused(net: Testnet) -> None:
    other = connect(net.address(0), client_tls(net.root / "tls", "other"))
    key = load_signing_key(net.client_key)
    tx = kv_put_tx(key, net.chain_id, CHANNEL, b"before", b"v", nonce=1)
    assert submit_and_wait(net.stub(0), CHANNEL, tx).code == 0
    # A client certificate revoked while the nodes run: its next call is refused.
    revoke(net, "client.crt")
    for i in range(4):
        with pytest.raises(grpc.RpcError) as refused:
            net.stub(i).GetStatus(api.GetStatusRequest(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "revoked" in (refused.value.details() or "")
    assert "revoked certificate refused" in net.log(0)
    tx = kv_put_tx(key, net.chain_id, CHANNEL, b"other", b"v", nonce=2)
    assert submit_and_wait(other, CHANNEL, tx).code == 0  # another client goes on
    # A validator certificate revoked: the others cut its streams and refuse its calls,
    # and the remaining three go on committing.
    revoked = net.configs[3].node_id
    revoke(net, f"{revoked}.crt")
    for i in range(3):
        wait_for(
            lambda i=i: (
                "revoked certificate refused" in net.log(i) and f"caller={revoked}" in net.log(i)
            ),
            30,
            f"node {i} refusing {revoked}",
        )
    for i in range(3):  # nor do they send it anything: it stops following the chain
        wait_for(
            lambda i=i: "not sending to a peer whose certificate is revoked" in net.log(i),
            30,
            f"node {i} no longer sending to {revoked}",
        )

    def height(i: int) -> int:
        stub = connect(net.address(i), client_tls(net.root / "tls", "other"))
        return stub.GetStatus(api.GetStatusRequest(), timeout=5).channels[0].height

    cut_off_at = height(3)
    for n in range(3, 6):
        tx = kv_put_tx(key, net.chain_id, CHANNEL, b"after%d" % n, b"v", nonce=n)
        assert submit_and_wait(other, CHANNEL, tx, timeout_s=60).code == 0
    heights = [height(i) for i in range(3)]
    assert min(heights) >= 4
    assert height(3) == cut_off_at < min(heights), "the revoked validator learns no block"
