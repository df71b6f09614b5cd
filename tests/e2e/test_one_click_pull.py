"""The one-click pull over a real testnet running the government applications."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import nacl.signing
import pytest

from client.connection import open_channel
from client.kiosk import pull, sign_request
from demo.specs import SPECS
from demo.story import Demo
from protos import datashare_pb2 as ds
from protos import datashare_pb2_grpc as ds_grpc
from protos import government_pb2 as government
from tests.e2e.harness import Testnet, wait_for


@pytest.fixture(scope="module")
def government_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    net = Testnet(
        tmp_path_factory.mktemp("government") / "net",
        app="government",
        view_change_timeout_ticks=20,
        status_interval_ticks=5,
    )
    net.start_all()
    try:
        yield net
    finally:
        net.stop_all()


@pytest.fixture(scope="module")
def seeded(government_net: Testnet) -> tuple[Demo, dict[str, government.License]]:
    demo = Demo(government_net.root, out=io.StringIO())
    return demo, demo.seed()


def material(spec_index: int, anchored: dict[str, government.License]) -> ds.MaterialRequest:
    spec = SPECS[spec_index]
    return ds.MaterialRequest(
        name=spec.name,
        license_id=anchored[spec.type_code].license_id,
        items=[f"{spec.type_code}/{c}" for c in spec.values],
    )


def pull_one(
    demo: Demo,
    grant_id: str,
    m: ds.MaterialRequest,
    provider: str,
    key: nacl.signing.SigningKey | None = None,
    requester: str = "agriculture",
) -> list[ds.PullEvent]:
    req = ds.PullRequest(
        case_number="C-test", grant_id=grant_id, requester=requester, materials=[m]
    )
    signed = sign_request(req, key or demo.keys["agriculture"])
    return list(pull(demo.nodes[provider], signed, tls=demo.kiosk_tls))


def get_grant_until(demo: Demo, grant_id: str) -> int:
    from chains.authorization import get_grant
    from client.state import RemoteState

    grant = get_grant(RemoteState(demo.stub, "authorization"), grant_id)
    assert grant is not None
    return grant.valid_until_ms


def history(demo: Demo) -> list[government.AccessRecord]:
    stub = ds_grpc.DataShareStub(open_channel(next(iter(demo.nodes.values())), demo.tls))
    return list(
        stub.AccessHistory(ds.AccessHistoryRequest(subject_ref=demo.company), timeout=5).records
    )


def test_full_pesticide_permit_flow_pulls_four_materials_fast(seeded) -> None:
    demo, anchored = seeded
    _, grant_id, case = demo.kiosk_session()
    elapsed = demo.one_click_pull(grant_id, case, anchored)
    assert elapsed < 3.0
    demo.finish_case(case)
    demo.audit()
    output = demo.out.getvalue()
    assert output.count("区块链获取") == 4 and "需扫描" in output and "permit issued" in output
    granted = [r for r in history(demo) if r.grant_id == grant_id and r.outcome == "granted"]
    assert sorted(r.provider for r in granted) == sorted(s.department for s in SPECS)


CASES = [
    "no grant",
    "item outside the grant",
    "item outside the service item",
    "item of another license",
    "wrong requester key",
    "revoked grant",
    "expired grant",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_pulls_are_denied_with_a_reason_and_the_denial_is_recorded(seeded, case: str) -> None:
    demo, anchored = seeded
    items = None
    if case == "item outside the grant":
        items = ["BL01/name"]
    elif case == "item outside the service item":
        items = ["BL01/name", "BL01/bank_account"]
    valid_ms = 2000 if case == "expired grant" else 30 * 60_000
    _, grant_id, _ = demo.kiosk_session(items, valid_ms)
    m = material(0, anchored)
    key = None
    expect = ""
    if case == "no grant":
        grant_id, expect = "G-nonexistent", "no grant"
    elif case == "item outside the grant":
        expect = "BL01/uscc"
    elif case == "item outside the service item":
        m.items[:] = ["BL01/bank_account"]
        expect = "needs"
    elif case == "item of another license":
        m.items.append("RID01/id_number")
        expect = "has no items RID01/id_number"
    elif case == "expired grant":
        until = get_grant_until(demo, grant_id)
        wait_for(lambda: time.time() * 1000 > until + 50, 10, "the grant to expire")
        expect = "expired"
    elif case == "wrong requester key":
        key, expect = nacl.signing.SigningKey.generate(), "not signed by a key of the requesting"
    else:
        demo.must(
            "authorization",
            "authorization.revoke_grant",
            government.RevokeGrant(grant_id=grant_id, reason="citizen withdrew consent"),
            demo.kiosk,
        )
        expect = "revoked"
    before = len(history(demo))
    events = pull_one(demo, grant_id, m, SPECS[0].department, key)
    assert [e.status for e in events] == [ds.PENDING, ds.PULLING, ds.DENIED]
    assert expect in events[-1].reason and not events[-1].items
    records = history(demo)
    if case != "no grant":  # a denial under an existing grant is in the subject's history
        assert len(records) == before + 1 and records[-1].outcome == "denied"


def test_revoked_license_is_never_served(seeded) -> None:
    demo, anchored = seeded
    _, grant_id, _ = demo.kiosk_session()
    spec = SPECS[2]
    demo.must(
        "license",
        "license.set_status",
        government.SetLicenseStatus(
            license_id=anchored[spec.type_code].license_id,
            status=government.REVOKED,
            reason="premises closed",
        ),
        demo.keys[spec.department],
    )
    events = pull_one(demo, grant_id, material(2, anchored), spec.department)
    assert events[-1].status == ds.DENIED and "revoked" in events[-1].reason


def test_pull_succeeds_while_one_validator_is_down(government_net: Testnet, seeded) -> None:
    demo, anchored = seeded
    _, grant_id, _ = demo.kiosk_session()
    down = next(i for i, c in enumerate(government_net.configs) if c.node_id == "civil-affairs")
    government_net.kill(down)
    try:
        start = time.monotonic()
        events = pull_one(demo, grant_id, material(1, anchored), SPECS[1].department)
        assert events[-1].status == ds.OBTAINED, events[-1].reason
        assert time.monotonic() - start < 30
    finally:
        government_net.start(down)
        government_net.wait_ready(down)
