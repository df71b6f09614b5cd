"""A tx's inclusion proof and its block's commit certificate, checked by the console
itself, one verdict per check.

The console trusts no node's word that a tx is committed: it takes the tx bytes, the
Merkle proof and the block header a node returns, the block's commits, and the channel's
validator set at that height (its governance history from the chain, else the genesis
file the console was configured with), and runs exactly the checks an evidence bundle
gets offline (client.evidence_verify: the core's Merkle proof and certificate checks).
Asking to check a tx against another block (`at_height`) shows which checks then fail.
"""

from __future__ import annotations

from typing import Any

from client.connection import DEFAULT_SUITE
from client.evidence import validator_set
from client.evidence_verify import STEPS, Check, suite_context
from protos import api_pb2 as api
from web.console.ledger import Ledger

NOT_TX_STEPS = {"access record"}  # about pulls; every other step holds for any tx


def check_tx(
    ledger: Ledger, channel: str, found: api.GetTransactionResponse, at_height: int = 0
) -> list[Check]:
    """Every check of the tx `found` (as GetTransaction returned it) against its block,
    or against block `at_height` when asked (NotFound if that block does not exist)."""
    height = at_height or found.height
    block = ledger.block(channel, height)
    header = found.block_header if height == found.height else block.block.block.header
    bundle = {
        "chain_id": ledger.network.chain_id,
        "channel": channel,
        "tx": {"id": "", "envelope": found.tx.hex(), "height": height, "index": found.index},
        "proof": {
            "index": found.proof.index,
            "leaf_count": found.proof.leaf_count,
            "siblings": [s.hex() for s in found.proof.siblings],
        },
        "block": {
            "header": header.hex(),
            "hash": block.hash.hex(),
            "commits": [
                {"body": c.body.hex(), "signature": c.signature.hex()} for c in block.block.commits
            ],
        },
        "validators": validator_set(ledger.state, channel, height, ledger.network.genesis_dir),
    }
    bundle["tx"]["id"] = ledger.network.hash(found.tx).hex()  # SM3 on an sm2-sm3 chain
    if ledger.network.crypto_suite != DEFAULT_SUITE:  # the offline check follows it
        bundle["crypto_suite"] = ledger.network.crypto_suite
    return run_checks(bundle)


def run_checks(bundle: dict[str, Any]) -> list[Check]:
    results: dict[str, Any] = suite_context(bundle)  # the suite, as the offline check reads it
    checks = []
    for name, step in STEPS:
        if name in NOT_TX_STEPS:
            continue
        try:
            checks.append(Check(name, True, step(bundle, results)))
        except Exception as e:  # each step's _Failed (or unreadable input) is its verdict
            checks.append(Check(name, False, str(e) or type(e).__name__))
    return checks
