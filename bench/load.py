"""Load clients: separate processes that pre-sign their txs, then submit in batches.

Signing happens before the measured window starts. Each client submits either open loop
(batches at fixed times for a target rate) or closed loop (the next batch as soon as the
previous call returns), and reports, per batch, when it was sent and each tx's status.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nacl.signing

from client.tls import TlsFiles
from crypto import DEFAULT_SUITE, SuiteSigner, suite_by_name


@dataclass
class ClientPlan:
    index: int
    address: str
    chain_id: str
    channels: list[str]
    txs: int
    batch: int
    payload_bytes: int
    rate_tps: float  # 0: closed loop
    start_at: float  # time.time() when submitting starts (set at the start signal)
    duration_s: float
    tls: TlsFiles | None = None  # the testnet's client certificate; None if insecure
    crypto_suite: str = DEFAULT_SUITE  # the genesis's: which keys the client signs with


def sign_txs(plan: ClientPlan) -> list[tuple[str, bytes]]:
    from client.txs import kv_put_tx

    key: nacl.signing.SigningKey | SuiteSigner = nacl.signing.SigningKey.generate()
    if plan.crypto_suite != DEFAULT_SUITE:
        key = SuiteSigner.from_seed(suite_by_name(plan.crypto_suite), os.urandom(32))
    value = os.urandom(plan.payload_bytes)
    out = []
    for i in range(plan.txs):
        channel = plan.channels[i % len(plan.channels)]
        k = b"c%d-%d" % (plan.index, i)
        out.append((channel, kv_put_tx(key, plan.chain_id, channel, k, value, nonce=i)))
    return out


def run_client(plan: ClientPlan, results: mp.Queue, start: Any) -> None:
    """Process entry point: sign, report ready, wait for the common start time (set by the
    parent in the shared value `start` once every client has signed), submit, report."""
    from client.connection import connect

    txs = sign_txs(plan)
    stub = connect(plan.address, plan.tls)
    results.put(("ready", plan.index, len(txs)))
    while start.value == 0.0:
        time.sleep(0.005)
    plan.start_at = start.value
    while time.time() < plan.start_at:
        time.sleep(min(0.01, max(0.0, plan.start_at - time.time())))
    end = plan.start_at + plan.duration_s
    load = submit_until(stub, txs, plan, end, lambda kind: results.put(("error", plan.index, kind)))
    results.put(("busy", plan.index, load.busy))
    results.put(("answered", plan.index, load.answered_at))
    results.put(("done", plan.index, load.sent))


@dataclass
class ClientLoad:
    """What one client did: per call, its send time and the final status of each tx it
    carried; how many busy answers it was given; when each accepted tx's call returned."""

    sent: list = field(default_factory=list)
    busy: int = 0
    answered_at: dict[bytes, float] = field(default_factory=dict)


def submit_until(
    stub: Any,
    txs: list[tuple[str, bytes]],
    plan: ClientPlan,
    end: float,
    on_error: Callable[[str], None],
) -> ClientLoad:
    """Submit `txs` in batches until they are all answered or `end`, as a well-behaved
    client does under backpressure: a tx a busy node turns away (MEMPOOL_FULL with
    "retry after N ms") goes back to the front of the queue, and the next call waits the
    hinted pause, so a closed loop offers what the chain commits instead of spending its
    pre-signed txs on refusals. A tx still turned away at `end` is reported MEMPOOL_FULL."""
    from client.txs import retry_after_s
    from protos import api_pb2 as api

    queue = deque(raw for _, raw in txs)
    turned_away: dict[bytes, bytes] = {}  # raw -> tx id, while a busy tx waits to retry
    load = ClientLoad()
    taken = 0
    pause_until = 0.0
    while queue and time.time() < end:
        if plan.rate_tps > 0:
            due = plan.start_at + taken / plan.rate_tps
            if due > time.time():
                time.sleep(due - time.time())
        if pause_until > time.time():
            time.sleep(pause_until - time.time())
        chunk = [queue.popleft() for _ in range(min(plan.batch, len(queue)))]
        taken += len(chunk)
        t0 = time.time()
        try:
            reply = stub.SubmitTransactions(api.SubmitRequest(txs=chunk), timeout=30)
        except Exception as e:  # a failed call fails its whole batch, counted by reason
            load.sent.append((t0, [(b"", -1)] * len(chunk)))
            on_error(type(e).__name__)
            continue
        t1 = time.time()
        final, again, pause = [], [], 0.0
        for raw, r in zip(chunk, reply.results, strict=True):
            wait = retry_after_s(r)
            if wait is None:
                turned_away.pop(raw, None)
                final.append((r.tx_id, r.status))
                if r.status == api.ACCEPTED:
                    load.answered_at[r.tx_id] = t1
            else:
                turned_away[raw] = r.tx_id
                again.append(raw)
                pause = max(pause, wait)
        load.sent.append((t0, final))
        load.busy += len(again)
        queue.extendleft(reversed(again))
        pause_until = time.time() + pause
    if turned_away:
        load.sent.append((end, [(tid, api.MEMPOOL_FULL) for tid in turned_away.values()]))
    return load
