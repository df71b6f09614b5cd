"""An evidence bundle from a real pull on a real 4-validator government testnet, checked by
`govchain verify-evidence` in a process of its own with no node involved, and a tampered
copy rejected."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.evidence import collect_evidence, write_evidence
from client.hall import PullUpdate
from demo.specs import ITEM, SPECS
from demo.story import Demo
from protos import datashare_pb2 as ds
from tests.e2e.harness import Testnet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def government_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    net = Testnet(
        tmp_path_factory.mktemp("evidence") / "net",
        app="government",
        view_change_timeout_ticks=20,
        status_interval_ticks=5,
    )
    net.start_all()
    try:
        yield net
    finally:
        net.stop_all()


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "verify-evidence", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_pulled_material_s_evidence_verifies_offline_and_tampering_fails(
    government_net: Testnet, tmp_path: Path
) -> None:
    demo = Demo(government_net.root, out=io.StringIO())
    demo.seed()
    hall = demo.hall
    _, grant_id, case = demo.kiosk_session()
    plan = hall.plan(ITEM, demo.company)
    assert [m.scan for m in plan] == [False] * len(SPECS) + [True]
    assert all(m.pullable for m in plan if not m.scan)
    seen: list[PullUpdate] = []
    updates = list(hall.pull(grant_id, case, plan, on_update=seen.append))
    assert updates == seen
    final = [u for u in updates if u.final]
    assert len(final) == len(SPECS) and all(u.verified for u in final)
    for u in updates:  # each material went through its statuses in order
        assert u.event.status in (ds.PENDING, ds.PULLING, ds.OBTAINED)

    u = final[0]
    bundle = collect_evidence(
        hall.stub,
        demo.chain_id,
        u.request,
        u.event,
        u.material.provider,
        hall.network.genesis_dir,
    )
    assert bundle["validators"]["source"] == "genesis"
    path = tmp_path / "evidence.json"
    write_evidence(bundle, path)
    ok = verify(path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED" in ok.stdout and u.material.name in ok.stdout

    tampered = json.loads(path.read_text())
    tampered["claim"]["case_number"] = "C-someone-else"
    path.write_text(json.dumps(tampered))
    bad = verify(path)
    assert bad.returncode == 1 and "FAIL access record" in bad.stdout

    tampered = json.loads(json.dumps(bundle))
    tampered["block"]["commits"] = tampered["block"]["commits"][:1]
    path.write_text(json.dumps(tampered))
    bad = verify(path)
    assert bad.returncode == 1 and "fewer than a quorum" in bad.stdout

    hall.attach_and_submit(case, final, {"仓储设施照片 storage photos": b"scan"})
    submitted = hall.state.case(case)
    assert submitted is not None and submitted.status == "submitted"
    assert case in [c.case_number for c in hall.state.cases(department="agriculture")]
    history = hall.state.access_history(demo.company)
    assert u.event.access_id in [r.access_id for r in history]
