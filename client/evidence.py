"""Evidence bundles: what a citizen takes home to prove, without any node, that a
department's access to their data was recorded on the chain.

A bundle (docs/protocol.md, "Evidence bundles") is one JSON file holding, for one pulled
material: the signed pull request, the RecordAccess tx the provider committed for it,
that tx's Merkle proof against its block header, the block's commit certificate, and the
validator set the certificate is checked against (with how it was obtained). Bytes are
hex. `collect_evidence` gathers it from a node; `client.evidence_verify.verify_evidence`
checks it offline; `read_evidence` / `write_evidence` move it to and from a file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from client.state import ChainState
from consensus.membership import Membership
from crypto import DEFAULT_SUITE
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import datashare_pb2 as ds

FORMAT = "govchain-evidence"
VERSION = 1
CHANNEL = "authorization"
READ_TIMEOUT_S = 5.0
OUTCOMES = {ds.OBTAINED: "granted", ds.FAILED: "granted", ds.DENIED: "denied"}

# Each section and the fields it must hold (a file without them is not a bundle).
LAYOUT: dict[str, tuple[str, ...]] = {
    "claim": (
        "material",
        "case_number",
        "grant_id",
        "license_id",
        "requester",
        "provider",
        "access_id",
        "outcome",
    ),
    "tx": ("id", "envelope", "height", "index", "result_code", "result_reason"),
    "proof": ("index", "leaf_count", "siblings"),
    "block": ("header", "hash", "commits"),
    "validators": ("keys", "source", "note"),
}


class EvidenceError(Exception):
    """A bundle cannot be made (the pull left no committed access) or a file is not one."""


def collect_evidence(
    stub: api_grpc.ClientStub,
    chain_id: str,
    request: ds.PullRequest,
    event: ds.PullEvent,
    provider: str,
    genesis_dir: Path | None = None,
    crypto_suite: str = DEFAULT_SUITE,
) -> dict[str, Any]:
    """The bundle of one material's final pull event (`request`: the signed PullRequest
    it answers; `provider`: the department asked). The validator set is the channel's
    membership at the tx's height if governance ever changed it, else the genesis set:
    from `genesis_dir/authorization.json` when given (the file goes into the bundle, so
    its hash can be compared with the published one), else as the node reports it.
    `crypto_suite` is the chain's (its genesis'): named in the bundle unless it is the
    default, so the offline check uses its hash and signatures (SM3 and SM2)."""
    if not event.access_tx_id:
        raise EvidenceError(
            f"{event.material}: the provider reported no committed access tx "
            "(a node from before evidence bundles, or the access did not commit)"
        )
    tx = stub.GetTransaction(
        api.GetTransactionRequest(channel=CHANNEL, tx_id=event.access_tx_id),
        timeout=READ_TIMEOUT_S,
    )
    block = stub.GetBlock(
        api.GetBlockRequest(channel=CHANNEL, height=tx.height), timeout=READ_TIMEOUT_S
    )
    suite = {} if crypto_suite == DEFAULT_SUITE else {"crypto_suite": crypto_suite}
    return {
        "format": FORMAT,
        "version": VERSION,
        **suite,
        "chain_id": chain_id,
        "channel": CHANNEL,
        "claim": {
            "material": event.material,
            "case_number": request.case_number,
            "grant_id": request.grant_id,
            "license_id": event.license_id,
            "requester": request.requester,
            "provider": provider,
            "access_id": event.access_id,
            "outcome": OUTCOMES.get(event.status, "denied"),
        },
        "pull_request": request.SerializeToString(deterministic=True).hex(),
        "tx": {
            "id": event.access_tx_id.hex(),
            "envelope": tx.tx.hex(),
            "height": tx.height,
            "index": tx.index,
            "result_code": tx.result.code,
            "result_reason": tx.result.reason,
        },
        "proof": {
            "index": tx.proof.index,
            "leaf_count": tx.proof.leaf_count,
            "siblings": [s.hex() for s in tx.proof.siblings],
        },
        "block": {
            "header": tx.block_header.hex(),
            "hash": block.hash.hex(),
            "commits": [
                {"body": c.body.hex(), "signature": c.signature.hex()} for c in block.block.commits
            ],
        },
        "validators": validator_set(ChainState(stub), CHANNEL, tx.height, genesis_dir),
    }


def validator_set(
    state: ChainState, channel: str, height: int, genesis_dir: Path | None
) -> dict[str, Any]:
    """The set that orders `height` of `channel`, in the bundle's layout, and where it came
    from: the channel's governance history if a validator change ever committed, else the
    genesis file (with its hash, for a citizen to compare with the published one), else
    what a node reports (said so: not checkable offline). The kiosk's bundles, the
    console's and the gateway's checks all take the set from here."""
    membership = state.membership(channel)
    if membership is not None:
        keys = Membership.from_pb(membership).at(height).validators
        return {
            "keys": [k.hex() for k in keys],
            "source": "membership",
            "note": f"the channel's MembershipState (GetState) read from a node, epoch of {height}",
            "membership": membership.SerializeToString(deterministic=True).hex(),
        }
    genesis = genesis_dir / f"{channel}.json" if genesis_dir else None
    if genesis is not None and genesis.is_file():
        raw = genesis.read_bytes()
        return {
            "keys": [v["public_key"] for v in json.loads(raw)["validators"]],
            "source": "genesis",
            "note": "no validator change ever committed: the genesis set orders every height",
            "genesis": raw.decode(),
            "genesis_sha256": hashlib.sha256(raw).hexdigest(),
        }
    status = state.channel_status(channel)
    if status is None:
        raise EvidenceError(f"the node serves no {channel} channel")
    return {
        "keys": [k.hex() for k in status.validators],
        "source": "node",
        "note": "no validator change ever committed: the genesis set, as the node reports it",
    }


def check_layout(bundle: object) -> dict[str, Any]:
    """The bundle if it has every section and field of this format, else EvidenceError
    saying what is missing (the values themselves are judged by verify_evidence)."""
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise EvidenceError(f'not an evidence bundle (no "format": "{FORMAT}")')
    if bundle.get("version") != VERSION:
        raise EvidenceError(
            f"evidence bundle version {bundle.get('version')!r}; this reads {VERSION}"
        )
    for top in ("chain_id", "channel", "pull_request"):
        if not isinstance(bundle.get(top), str):
            raise EvidenceError(f'evidence bundle has no "{top}"')
    for section, names in LAYOUT.items():
        part = bundle.get(section)
        if not isinstance(part, dict):
            raise EvidenceError(f'evidence bundle has no "{section}" section')
        missing = [n for n in names if n not in part]
        if missing:
            raise EvidenceError(f'evidence bundle "{section}" lacks {", ".join(missing)}')
    return bundle


def write_evidence(bundle: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_evidence(path: Path) -> dict[str, Any]:
    """A bundle file, its layout checked; EvidenceError if it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise EvidenceError(f"cannot read {path}: {e}") from e
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as e:
        raise EvidenceError(f"{path} is not JSON: {e}") from e
    return check_layout(bundle)
