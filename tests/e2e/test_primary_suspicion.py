"""A killed primary's closed connections make the survivors move on before the request
timer: the node reports the lost link to its core (PeerLinkChanged), which waits only
`primary_suspect_ticks` (issue 16, "Recovery")."""

from __future__ import annotations

import time

from client.txs import submit
from protos import api_pb2 as api
from tests.e2e.harness import Testnet, wait_for
from tests.e2e.test_testnet import committed_on, make_txs

FULL_TIMEOUT_TICKS = 200  # 10 s at 50 ms: the full request timer alone would take this


def test_survivors_leave_a_killed_primary_well_before_the_full_timeout(tmp_path) -> None:
    net = Testnet(
        tmp_path / "net",
        channels=("license",),
        insecure=True,
        view_change_timeout_ticks=FULL_TIMEOUT_TICKS,
        primary_suspect_ticks=8,
    )
    try:
        net.start_all()
        first = submit(net.stub(1), make_txs(net, "license", 10, prefix="a"))
        wait_for(lambda: committed_on(net, 3, "license", [first[-1].tx_id]), 30, "first commit")
        net.kill(0)  # validators[0] is the primary of view 0
        killed = time.monotonic()
        second = submit(net.stub(1), make_txs(net, "license", 10, prefix="b"))
        assert all(r.status == api.ACCEPTED for r in second)
        ids = [r.tx_id for r in second]
        for node in (1, 2, 3):
            wait_for(lambda n=node: committed_on(net, n, "license", ids), 30, "commit after kill")
        took = time.monotonic() - killed
        assert all(net.status(n)["license"].view == 1 for n in (1, 2, 3))
        # 8 ticks of suspicion and one view change; 10 s would mean the full timer ran.
        assert took < FULL_TIMEOUT_TICKS * 0.05 / 2, f"commits resumed after {took:.1f} s"
    finally:
        net.stop_all()
