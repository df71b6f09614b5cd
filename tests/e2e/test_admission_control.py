"""Who may write, and how much: write policies and flood limits on real node processes."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from client.connection import client_tls, connect, load_signing_key
from client.txs import kv_put_tx, signed_tx, submit
from protos import api_pb2 as api
from protos import government_pb2 as government
from tests.e2e.harness import Testnet, wait_for


def test_a_terminal_may_not_write_licenses_and_nothing_of_its_call_is_admitted(
    tmp_path: Path,
) -> None:
    net = Testnet(tmp_path / "net", app="government", channels=("license",))
    try:
        net.start_all()
        kiosk = load_signing_key(net.root / "keys" / "kiosk.key")
        agri = load_signing_key(net.root / "keys" / "agriculture.tx.key")
        license_type = government.LicenseType(
            code="TESTPERMIT",
            name="test permit",
            department="agriculture",
            holder_type="company",
            items=[government.DataItem(code="scope", name="scope", type="string", sensitivity=1)],
        ).SerializeToString()
        allowed = signed_tx(agri, net.chain_id, "license", "license.register_type", license_type)
        forbidden = signed_tx(kiosk, net.chain_id, "license", "license.register_type", license_type)
        with pytest.raises(grpc.RpcError) as denied:
            submit(net.stub(0), [allowed, forbidden])
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "'haidian-kiosk-01'" in (denied.value.details() or "")
        assert net.status(0)["license"].mempool_txs == 0
        wait_for(lambda: "write policy" in net.log(0), 10, "the refusal logged")
        # The department's tx on its own is admitted and commits.
        (result,) = submit(net.stub(0), [allowed])
        assert result.status == api.ACCEPTED

        found: list[api.GetTransactionResponse] = []

        def committed() -> bool:
            try:
                found.append(
                    net.stub(0).GetTransaction(
                        api.GetTransactionRequest(channel="license", tx_id=result.tx_id),
                        timeout=5,
                    )
                )
            except grpc.RpcError:
                return False
            return True

        wait_for(committed, 30, "the department's tx to commit")
        assert found[-1].result.code == 0, found[-1].result.reason
    finally:
        net.stop_all()


def test_a_flooding_client_is_throttled_and_others_are_still_served(tmp_path: Path) -> None:
    net = Testnet(
        tmp_path / "net",
        channels=("license",),
        limits={"client_txs_per_s": 300, "connection_calls_per_s": 40},
    )
    try:
        net.start_all()
        key = load_signing_key(net.client_key)
        txs = [
            kv_put_tx(key, net.chain_id, "license", b"f%d" % i, b"v", nonce=i) for i in range(2000)
        ]
        flooder = net.stub(0)
        codes: list[str] = []
        for i in range(0, 2000, 200):
            try:
                submit(flooder, txs[i : i + 200])
                codes.append("OK")
            except grpc.RpcError as e:
                codes.append(e.code().name)
        assert codes[0] == "OK" and "RESOURCE_EXHAUSTED" in codes
        # Another client (the kiosk's certificate) is served at once.
        other = connect(net.address(0), client_tls(net.root / "tls", "kiosk"))
        started = time.monotonic()
        other.GetStatus(api.GetStatusRequest(), timeout=2)
        assert time.monotonic() - started < 1.0
        # Too many calls on one connection are refused too; the node logs both, briefly.
        refused = 0
        for _ in range(120):
            try:
                flooder.GetStatus(api.GetStatusRequest(), timeout=2)
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                refused += 1
        assert refused > 0
        wait_for(lambda: "calls/s per connection" in net.log(0), 10, "throttling logged")
        assert "client txs/s" in net.log(0)
        assert net.log(0).count("throttled") < 10  # one line per key per interval
    finally:
        net.stop_all()
