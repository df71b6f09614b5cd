"""Load clients: separate processes that pre-sign their txs, then submit in batches.

Signing happens before the measured window starts. Each client submits either open loop
(batches at fixed times for a target rate) or closed loop (the next batch as soon as the
previous call returns), and reports, per batch, when it was sent and each tx's status.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import dataclass
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
    # Closed loop: after a batch the node turned away busy, pause as it asked (client.txs's
    # retry-after) before the next; otherwise refusals come back at once, and the clients
    # spend their pre-signed txs in seconds.
    honour_retry_after: bool = False


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


def busy_pause_s(results) -> float:
    """The longest pause the node asked for in a reply (0 if it turned nothing away)."""
    from client.txs import RETRY_AFTER
    from protos import api_pb2 as api

    pauses = [
        int(found.group(1)) / 1000
        for r in results
        if r.status == api.MEMPOOL_FULL and (found := RETRY_AFTER.search(r.detail))
    ]
    return min(max(pauses, default=0.0), 2.0)  # as client.txs: at most 2 s


def run_client(plan: ClientPlan, results: mp.Queue, start: Any) -> None:
    """Process entry point: sign, report ready, wait for the common start time (set by the
    parent in the shared value `start` once every client has signed), submit, report."""
    from client.connection import connect
    from protos import api_pb2 as api

    txs = sign_txs(plan)
    stub = connect(plan.address, plan.tls)
    results.put(("ready", plan.index, len(txs)))
    while start.value == 0.0:
        time.sleep(0.005)
    plan.start_at = start.value
    while time.time() < plan.start_at:
        time.sleep(min(0.01, max(0.0, plan.start_at - time.time())))
    end = plan.start_at + plan.duration_s
    sent = []
    k = 0
    while k < len(txs) and time.time() < end:
        if plan.rate_tps > 0:
            due = plan.start_at + k / plan.rate_tps
            now = time.time()
            if due > now:
                time.sleep(due - now)
        chunk = txs[k : k + plan.batch]
        t0 = time.time()
        try:
            reply = stub.SubmitTransactions(
                api.SubmitRequest(txs=[raw for _, raw in chunk]), timeout=30
            )
            statuses = [(r.tx_id, r.status) for r in reply.results]
            pause = busy_pause_s(reply.results) if plan.honour_retry_after else 0.0
        except Exception as e:  # a failed call fails its whole batch, counted by reason
            statuses = [(b"", -1)] * len(chunk)
            pause = 0.0
            results.put(("error", plan.index, type(e).__name__))
        sent.append((t0, statuses))
        k += len(chunk)
        if pause and plan.rate_tps == 0:
            time.sleep(min(pause, max(0.0, end - time.time())))
    results.put(("done", plan.index, sent))
