"""Check an evidence bundle offline: every link from the citizen's pull to a quorum of
validator signatures, each check with its own verdict and reason.

The chain of links: the pull request (signed by the requesting department) hashes to the
access record's `request_hash`; the access record is the payload of a canonical, signed
tx whose id is stated; the tx is a leaf of the header's `tx_root` (Merkle proof); the
header hashes to the digest the commits vote for; the commits are a quorum of distinct
validators of the given set, each signature valid. The validator set itself is trusted
as given (docs/protocol.md, "Evidence bundles", says how to cross-check it).

Every hash and signature is checked with the chain's crypto suite, which the bundle names
in `crypto_suite` (absent: `ed25519-sha256`): SM3 and SM2 for an `sm2-sm3` chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from chains.authorization import RECORD_ACCESS
from chains.tx import TxError, decode_tx, suite_hashing
from client.evidence import EvidenceError, check_layout
from client.pull_request import request_bytes, request_hash
from consensus.canonical import NonCanonical, decode_canonical
from consensus.certificates import check_block_cert
from consensus.config import ConsensusConfig
from consensus.membership import Membership
from consensus.messages import parse_signed
from consensus.reasons import Reason
from crypto import DEFAULT_SUITE, Suite, suite_by_name
from protos import consensus_pb2 as pb
from protos import datashare_pb2 as ds
from protos import government_pb2 as government

TX_BYTES_MAX = 1 << 20  # generous: the genesis bound is not in the bundle


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


class _Failed(Exception):
    """One check's failure, with its reason."""


def suite_context(bundle: dict[str, Any]) -> dict[str, Any]:
    """What the steps read the bundle's crypto suite from (its hash and signatures)."""
    suite = suite_by_name(bundle.get("crypto_suite", DEFAULT_SUITE))
    return {"suite": suite, "hashing": suite_hashing(suite)}


def verify_evidence(bundle: object) -> list[Check]:
    """Every check of the bundle, in order; it proves what it claims iff all are ok.
    A file that is not a bundle at all gives one failed `format` check."""
    try:
        b = check_layout(bundle)
        suite = suite_by_name(b.get("crypto_suite", DEFAULT_SUITE))
    except (EvidenceError, ValueError, ImportError) as e:  # ValueError: an unknown suite
        return [Check("format", False, str(e))]
    found: dict[str, Any] = {"suite": suite, "hashing": suite_hashing(suite)}
    detail = f"{b['format']} version {b['version']}, crypto suite {suite.name}"
    checks = [Check("format", True, detail)]
    for name, step in STEPS:
        try:
            detail = step(b, found)
        except _Failed as e:
            checks.append(Check(name, False, str(e)))
        except (ValueError, TypeError, KeyError, DecodeError) as e:  # bad hex, wrong types
            checks.append(Check(name, False, f"unreadable: {type(e).__name__}: {e}"))
        else:
            checks.append(Check(name, True, detail))
    return checks


def _hex(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise _Failed(f"{what} is not a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise _Failed(f"{what} is not valid hex") from None


def _tx(b: dict[str, Any], found: dict[str, Any]) -> str:
    raw = _hex(b["tx"]["envelope"], "tx envelope")
    try:
        tx = decode_tx(raw, b["chain_id"], TX_BYTES_MAX, found["suite"])
    except TxError as e:
        raise _Failed(f"the tx does not decode canonically for chain {b['chain_id']}: {e}") from e
    if tx.body.channel != b["channel"]:
        raise _Failed(f"the tx is for channel {tx.body.channel!r}, not {b['channel']!r}")
    if not found["suite"].verify(tx.signer, tx.body_bytes, tx.signature):
        raise _Failed("the tx's signature does not verify with its signer key")
    found["tx"] = tx
    return f"canonical {tx.body.type} tx signed by {tx.signer.hex()[:16]}…"


def _tx_id(b: dict[str, Any], found: dict[str, Any]) -> str:
    stated = _hex(b["tx"]["id"], "tx id")
    actual = found["hashing"].hash(_hex(b["tx"]["envelope"], "tx envelope"))
    if actual != stated:
        raise _Failed(f"the envelope hashes to {actual.hex()}, not the stated id {stated.hex()}")
    return stated.hex()


def _header(b: dict[str, Any], found: dict[str, Any]) -> str:
    raw = _hex(b["block"]["header"], "block header")
    try:
        header = decode_canonical(pb.BlockHeader, raw)
    except (DecodeError, NonCanonical) as e:
        raise _Failed(f"the block header does not decode canonically: {e}") from None
    if header.channel != b["channel"] or header.height != b["tx"]["height"]:
        raise _Failed(
            f"the header is of {header.channel!r} height {header.height}, "
            f"not {b['channel']!r} height {b['tx']['height']}"
        )
    found["header"] = header
    return f"height {header.height}, view {header.view}"


def _proof(b: dict[str, Any], found: dict[str, Any]) -> str:
    header = _need(found, "header")
    p = b["proof"]
    if p["index"] != b["tx"]["index"]:
        raise _Failed(f"the proof is for leaf {p['index']}, the tx is at {b['tx']['index']}")
    siblings = [_hex(s, "proof sibling") for s in p["siblings"]]
    leaf = _hex(b["tx"]["envelope"], "tx envelope")
    args = (leaf, p["index"], p["leaf_count"], siblings, header.tx_root)
    if not found["hashing"].verify_merkle_proof(*args):
        raise _Failed(
            f"the Merkle proof of leaf {p['index']} of {p['leaf_count']} does not reach "
            f"the header's tx_root {header.tx_root.hex()}"
        )
    return f"leaf {p['index']} of {p['leaf_count']} reaches tx_root {header.tx_root.hex()[:16]}…"


def _block_hash(b: dict[str, Any], found: dict[str, Any]) -> str:
    digest = found["hashing"].hash(_hex(b["block"]["header"], "block header"))
    stated = _hex(b["block"]["hash"], "block hash")
    if digest != stated:
        raise _Failed(f"the header hashes to {digest.hex()}, not the stated {stated.hex()}")
    found["digest"] = digest
    return digest.hex()


def _validators(b: dict[str, Any], found: dict[str, Any]) -> str:
    v = b["validators"]
    keys = tuple(_hex(k, "validator key") for k in v["keys"])
    height = b["tx"]["height"]
    if v["source"] == "membership":
        state = pb.MembershipState()
        state.ParseFromString(_hex(v.get("membership"), "membership"))
        expected = Membership.from_pb(state).at(height).validators
        if keys != expected:
            raise _Failed(f"the keys are not the membership's set of height {height}")
    elif v["source"] == "genesis":
        text = v.get("genesis")
        if not isinstance(text, str):
            raise _Failed("source genesis, but no genesis file in the bundle")
        data = json.loads(text)
        if (data.get("chain_id"), data.get("channel")) != (b["chain_id"], b["channel"]):
            raise _Failed(f"the genesis is for {data.get('chain_id')}/{data.get('channel')}")
        if keys != tuple(bytes.fromhex(x["public_key"]) for x in data["validators"]):
            raise _Failed("the keys are not the genesis file's validators")
        named = data.get("crypto_suite", DEFAULT_SUITE)
        if named != found["suite"].name:
            raise _Failed(f"the genesis names suite {named}, the bundle {found['suite'].name}")
        stated = v.get("genesis_sha256", "")
        actual = hashlib.sha256(text.encode()).hexdigest()
        if stated != actual:
            raise _Failed(f"the genesis file hashes to {actual}, not the stated {stated}")
    elif v["source"] != "node":
        raise _Failed(f"unknown validator-set source {v['source']!r}")
    try:
        hashing = found["hashing"]
        found["cfg"] = ConsensusConfig(channel=b["channel"], validators=keys, hashing=hashing)
    except ValueError as e:
        raise _Failed(f"not a validator set: {e}") from None
    return f"{len(keys)} validators from {v['source']}: {v['note']}"


def _certificate(b: dict[str, Any], found: dict[str, Any]) -> str:
    cfg: ConsensusConfig = _need(found, "cfg")
    digest = _need(found, "digest")
    height = b["tx"]["height"]
    commits = [
        pb.SignedMessage(body=_hex(c["body"], "commit body"), signature=_hex(c["signature"], "sig"))
        for c in b["block"]["commits"]
    ]
    suite: Suite = found["suite"]
    problem = _certificate_problem(commits, cfg, height, digest, suite)
    if problem:
        raise _Failed(problem)
    cert = check_block_cert(commits, height, digest, cfg, suite)  # a Suite is a Verifier
    if isinstance(cert, str):  # the core's own check is the authority
        raise _Failed(cert)
    return f"{len(commits)} commits of distinct validators (quorum {cfg.quorum} of {cfg.n})"


REASONS = {
    Reason.UNKNOWN_SENDER: "its sender is not in the validator set",
    Reason.NON_CANONICAL: "its body is not canonically encoded",
    Reason.WRONG_CHANNEL: "it is for another channel",
    Reason.MALFORMED: "it does not parse",
}


def _certificate_problem(
    commits: list[pb.SignedMessage],
    cfg: ConsensusConfig,
    height: int,
    digest: bytes,
    verifier: Suite,
) -> str | None:
    """What exactly is wrong with a commit certificate, for the citizen's report."""
    if len(commits) < cfg.quorum:
        return f"{len(commits)} commits, fewer than a quorum ({cfg.quorum} of {cfg.n} validators)"
    if len(commits) > cfg.n:
        return f"{len(commits)} commits, more than the {cfg.n} validators"
    seen: set[bytes] = set()
    for i, raw in enumerate(commits):
        signed = parse_signed(raw, cfg)
        if isinstance(signed, Reason):
            return f"commit {i}: {REASONS.get(signed, signed.value)}"
        who = signed.sender.hex()[:16]
        if not verifier.verify(signed.sender, signed.body, signed.signature):
            return f"commit {i}: the signature of validator {who}… does not verify"
        if signed.kind != "commit":
            return f"commit {i}: a {signed.kind} message, not a commit"
        if signed.sender in seen:
            return f"commit {i}: validator {who}… signed twice"
        seen.add(signed.sender)
        vote = signed.payload
        if vote.height != height or vote.digest != digest:
            return f"commit {i}: votes for height {vote.height} digest {vote.digest.hex()[:16]}…"
    return None


def _access(b: dict[str, Any], found: dict[str, Any]) -> str:
    tx = _need(found, "tx")
    claim = b["claim"]
    if tx.body.type != RECORD_ACCESS:
        raise _Failed(f"the tx is a {tx.body.type}, not a {RECORD_ACCESS}")
    record = government.AccessRecord()
    record.ParseFromString(tx.body.payload)
    request = ds.PullRequest()
    request.ParseFromString(_hex(b["pull_request"], "pull request"))
    material = next((m for m in request.materials if m.name == claim["material"]), None)
    if material is None:
        raise _Failed(f"the pull request asks for no material {claim['material']!r}")
    digest = request_hash(request, material, found["suite"])
    mismatches = [
        f"{name}: record says {got!r}, claim says {want!r}"
        for name, got, want in (
            ("access_id", record.access_id, claim["access_id"]),
            ("grant_id", record.grant_id, claim["grant_id"]),
            ("requester", record.requester, claim["requester"]),
            ("provider", record.provider, claim["provider"]),
            ("outcome", record.outcome, claim["outcome"]),
            ("items", list(record.items), list(material.items)),
            ("case_number", request.case_number, claim["case_number"]),
            ("license_id", material.license_id, claim["license_id"]),
            ("request grant_id", request.grant_id, claim["grant_id"]),
        )
        if got != want
    ]
    if record.request_hash != digest:
        mismatches.append("request_hash: the record does not hash this pull request and material")
    if mismatches:
        raise _Failed("; ".join(mismatches))
    if not found["suite"].verify(request.signer, request_bytes(request), request.signature):
        raise _Failed("the pull request's signature does not verify")
    return (
        f"{record.outcome} access {record.access_id} by {record.requester} from "
        f"{record.provider}, case {request.case_number}, material {material.name}"
    )


def _need(found: dict[str, Any], what: str) -> Any:
    if what not in found:
        raise _Failed(f"cannot check: the {what} check failed")
    return found[what]


STEPS: tuple[tuple[str, Callable[[dict[str, Any], dict[str, Any]], str]], ...] = (
    ("tx decodes", _tx),
    ("tx id", _tx_id),
    ("block header", _header),
    ("merkle proof", _proof),
    ("block hash", _block_hash),
    ("validator set", _validators),
    ("commit certificate", _certificate),
    ("access record", _access),
)
