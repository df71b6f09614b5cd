"""What an operator's tools see of a running node: Prometheus metrics, gRPC health and
reflection, and `govchain status` over the whole testnet."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from prometheus_client.parser import text_string_to_metric_families

from cli.main import main as cli
from client.connection import load_signing_key
from client.txs import kv_put_tx, submit
from protos import api_pb2 as api
from tests.e2e.harness import Testnet, wait_for


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Testnet]:
    t = Testnet(tmp_path / "net", channels=("license",), metrics=True)
    try:
        t.start_all()
        yield t
    finally:
        t.stop_all()


def scrape(net: Testnet, i: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    url = f"http://127.0.0.1:{net.metrics_base + i}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_follow_commits_and_refusals(net: Testnet) -> None:
    key = load_signing_key(net.client_key)
    txs = [kv_put_tx(key, net.chain_id, "license", b"m%d" % i, b"v", nonce=i) for i in range(20)]
    forged = api.TxEnvelope.FromString(kv_put_tx(key, net.chain_id, "license", b"x", b"v"))
    forged.signature = bytes([forged.signature[0] ^ 1]) + forged.signature[1:]
    results = submit(net.stub(0), [*txs, forged.SerializeToString()])
    assert [r.status for r in results[:20]] == [api.ACCEPTED] * 20
    assert results[20].status == api.BAD_SIGNATURE
    wait_for(
        lambda: value(scrape(net, 0), "govchain_height", channel="license") >= 1, 30, "a commit"
    )
    wait_for(
        lambda: (
            sum(
                value(scrape(net, 0), "govchain_peer_connected", peer=p.node_id)
                for p in net.configs[0].peers
            )
            == 3
        ),
        30,
        "peers in the metrics",
    )
    m = scrape(net, 0)
    assert value(m, "govchain_txs_total", channel="license", status="ACCEPTED") == 20
    assert value(m, "govchain_txs_total", channel="license", status="BAD_SIGNATURE") == 1
    assert value(m, "govchain_view", channel="license") == 0
    assert value(m, "govchain_view_active", channel="license") == 1
    assert value(m, "govchain_verify_batch_size_count") >= 1
    assert value(m, "govchain_block_commit_seconds_count", channel="license") >= 1
    assert value(m, "govchain_signatures_verified_total") >= 21
    # Another node learned the txs by gossip and counts them as admitted too.
    wait_for(
        lambda: (
            value(scrape(net, 1), "govchain_txs_total", channel="license", status="ACCEPTED")
            + value(
                scrape(net, 1), "govchain_txs_total", channel="license", status="ALREADY_COMMITTED"
            )
            >= 1
        ),
        30,
        "gossip counted",
    )


def test_health_and_reflection_answer_standard_clients(net: Testnet) -> None:
    channel = net.channel(0)
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "govchain.api.Client", "govchain.api.Peer"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.RpcError) as unknown:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"govchain.api.Client", "govchain.api.Peer", "grpc.health.v1.Health"} <= services
    assert any(s.endswith("DataShare") for s in services)


def test_status_shows_every_node_with_primary_and_lag(
    net: Testnet, capsys: pytest.CaptureFixture[str]
) -> None:
    wait_for(lambda: net.status(0)["license"].peers_connected == 3, 30, "peers")
    assert cli(["testnet", "status", "--dir", str(net.root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:6] == ["node", "channel", "height", "lag", "view", "state"]
    rows = [line.split() for line in out[1:]]
    assert len(rows) == 4
    primary = net.configs[0].node_id  # view 0: the first validator of the genesis
    assert all(r[1] == "license" and r[5] == "active" and r[6] == primary for r in rows)
    net.kill(3)
    assert cli(["testnet", "status", "--dir", str(net.root)]) == 1
    out = capsys.readouterr().out
    assert "unreachable (UNAVAILABLE)" in out
