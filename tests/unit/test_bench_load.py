"""The benchmark's load client under backpressure: it behaves as the SDK asks a client to.

A closed loop that spent a pre-signed tx on every "busy" answer ran out of txs a third of
the way through a run (and measured throughput over the few seconds it had), so the
client puts a busy tx back at the front of its queue and waits the hinted pause.
"""

from __future__ import annotations

import time

from bench.load import ClientPlan, submit_until
from protos import api_pb2 as api
from tests.unit.test_mempool_backpressure import BusyStub


def _plan(batch: int, rate_tps: float = 0.0) -> ClientPlan:
    return ClientPlan(
        index=0,
        address="",
        chain_id="c",
        channels=["license"],
        txs=0,
        batch=batch,
        payload_bytes=0,
        rate_tps=rate_tps,
        start_at=time.time(),
        duration_s=5,
    )


def test_a_busy_tx_is_submitted_again_first_and_counted_once_with_its_final_status() -> None:
    stub = BusyStub()
    txs = [("license", raw) for raw in (b"a", b"b", b"c", b"d")]
    errors: list[str] = []
    load = submit_until(stub, txs, _plan(batch=2), time.time() + 5, errors.append)
    sent, busy = load.sent, load.busy
    assert stub.calls == [[b"a", b"b"], [b"b", b"c"], [b"c", b"d"], [b"d"]]
    finals = [pair for _, statuses in sent for pair in statuses]
    assert sorted(finals) == [(raw, api.ACCEPTED) for raw in (b"a", b"b", b"c", b"d")]
    assert busy == 3  # b, c and d were each turned away once
    assert errors == []
    assert sorted(load.answered_at) == [b"a", b"b", b"c", b"d"]  # when the accepting call returned
    assert load.answered_at[b"a"] < load.answered_at[b"d"]


def test_a_tx_still_turned_away_when_the_load_ends_is_reported_busy_once() -> None:
    class AlwaysBusy(BusyStub):
        def SubmitTransactions(self, request: api.SubmitRequest, timeout: float):
            self.calls.append(list(request.txs))
            return api.SubmitResponse(
                results=[
                    api.SubmitResult(tx_id=raw, status=api.MEMPOOL_FULL, detail=self.busy_detail)
                    for raw in request.txs
                ]
            )

    stub = AlwaysBusy()
    end = time.time() + 0.3
    load = submit_until(stub, [("license", b"a")], _plan(batch=1), end, lambda _: None)
    sent, busy = load.sent, load.busy
    assert len(stub.calls) >= 2  # it kept asking, pausing 10 ms between calls
    assert busy == len(stub.calls)
    finals = [pair for _, statuses in sent for pair in statuses]
    assert finals == [(b"a", api.MEMPOOL_FULL)]
    assert load.answered_at == {}
