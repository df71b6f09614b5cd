"""Governance proposal files: the JSON a proposal travels in from operator to operator.

The file holds chain_id, channel, summary, proposal and approvals. `proposal` is the hex of
the exact serialized `GovernanceProposal` bytes the validators sign, so the file can be
mailed, inspected and re-encoded by any tool without changing what was approved; the
`summary` is for people and is recomputed from those bytes on every read, because anyone
could edit it. Loading checks everything that can be checked offline: the proposal parses
and names the file's chain and channel, and every approval verifies over its bytes.
Whether the approvals form a quorum of the right validator set only the chain knows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import nacl.signing
from google.protobuf.message import DecodeError

from chains.governance import (
    GOV_VALIDATORS,
    GOV_WRITE_POLICY,
    approval_verifies,
    approve,
    describe,
    policy_problem,
)
from chains.tx import encode_tx
from client.connection import suite_signer
from client.keys import DEFAULT_SECRET, KeyCustodyError, SignerKey
from client.keys import load_signing_key as load_key_spec
from client.txs import TxKey
from crypto import DEFAULT_SUITE, SIGNATURE_SHAPES, SUITE_NAMES, SuiteSigner, suite_by_name
from node.config import CHANNELS
from protos import api_pb2 as api
from protos import consensus_pb2 as pb


class ProposalError(Exception):
    """Bad input (a key, an address, a policy, a proposal file); the message says which."""


def parse_public_key(text: str, what: str) -> bytes:
    """A validator's public key of either suite: Ed25519 (32 bytes) or SM2 (65); which
    suite the chain runs, the proposal file names (`suite_of_key` checks they agree)."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ProposalError(f"{what}: not hex") from None
    if len(key) not in KEY_SUITES:
        raise ProposalError(
            f"{what}: a public key is 32 bytes (64 hex, Ed25519) or 65 bytes (130 hex, SM2), "
            f"not {len(key)}"
        )
    return key


# A public key's length names its suite (crypto.SIGNATURE_SHAPES): a channel's validators
# are keys of its genesis' suite, so a node's validator set tells a client the suite.
KEY_SUITES = {shape[0]: name for name, shape in SIGNATURE_SHAPES.items()}


def suite_of_key(key: bytes, what: str, suite: str | None = None) -> str:
    """The crypto suite `key` belongs to; if `suite` is given, the key must be of it."""
    found = KEY_SUITES.get(len(key))
    if found is None or (suite is not None and found != suite):
        raise ProposalError(f"{what}: a {len(key)}-byte key is not a {suite or 'known'} key")
    return found


def parse_address(text: str) -> str:
    """host:port where the new validator listens (what every peer will dial)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProposalError(f"--address {text!r}: expected host:port with a port in 1..65535")
    if len(text) > 255:
        raise ProposalError("--address: at most 255 characters")
    return text


def canonical_policy(raw: bytes, where: str) -> bytes:
    """The write policy as compact sorted JSON (what validators read in the summary)."""
    why = policy_problem(raw)
    if why is not None:
        raise ProposalError(f"{where}: {why}")
    return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()


def make_proposal(
    chain_id: str,
    channel: str,
    sequence: int,
    *,
    add: tuple[bytes, str] | None = None,
    remove: bytes | None = None,
    policy: bytes | None = None,
    replace: tuple[bytes, bytes, str] | None = None,
) -> pb.GovernanceProposal:
    """Exactly one change: add (key, address), remove key, a write policy (JSON), or
    replace (old key, new key, new address)."""
    if sum(x is not None for x in (add, remove, policy, replace)) != 1:
        raise ProposalError("a proposal makes exactly one change")
    if channel not in CHANNELS:
        raise ProposalError(f"unknown channel {channel!r} (known: {', '.join(CHANNELS)})")
    if sequence < 0:
        raise ProposalError(f"--sequence {sequence}: a governance sequence is never negative")
    proposal = pb.GovernanceProposal(chain_id=chain_id, channel=channel, sequence=sequence)
    if add is not None:
        proposal.add_validator.CopyFrom(pb.ValidatorAdd(public_key=add[0], address=add[1]))
    elif remove is not None:
        proposal.remove_validator = remove
    elif replace is not None:
        new = pb.ValidatorAdd(public_key=replace[1], address=replace[2])
        proposal.replace_validator.CopyFrom(
            pb.ValidatorReplace(old_key=replace[0], replacement=new)
        )
    else:
        proposal.write_policy = canonical_policy(policy or b"", "write policy")
    return proposal


def node_suite(status: api.GetStatusResponse, named: str | None = None) -> str:
    """The chain's crypto suite as a node reports it: its channels' validators are keys of
    the suite their genesis names. `named` (a --crypto-suite) must agree."""
    keys = [k for c in status.channels for k in c.validators]
    found = suite_of_key(keys[0], "the node's validators") if keys else None
    if named and found and named != found:
        raise ProposalError(f"--crypto-suite {named}: the network runs {found}")
    return found or named or DEFAULT_SUITE


def load_signing_key(
    path: Path | str, secret: str | None = DEFAULT_SECRET, suite: str = DEFAULT_SUITE
) -> nacl.signing.SigningKey | SignerKey | SuiteSigner:
    """A key spec (hex or encrypted key file, or `pkcs11:` token URI; an encrypted file's
    passphrase or the token's PIN from `secret`, by default $GOVCHAIN_KEY_SECRET) of the
    chain's crypto suite (an SM2 signer on `sm2-sm3`); errors name the file, never its
    content."""
    try:
        if suite == DEFAULT_SUITE:
            return load_key_spec(path, secret)
        return suite_signer(path, secret, suite)
    except KeyCustodyError as e:
        raise ProposalError(str(e)) from None
    except ValueError as e:  # a seed file that is no 32-byte hex
        raise ProposalError(f"{path}: not a key file: {e}") from None


@dataclass
class ProposalFile:
    """A proposal and the approvals gathered so far (validator key -> signature)."""

    raw: bytes
    proposal: pb.GovernanceProposal
    approvals: dict[bytes, bytes] = field(default_factory=dict)
    # The chain's crypto suite: approvals are signed and checked in it. Named in the file
    # unless it is the default, so an `ed25519-sha256` file is what it always was.
    crypto_suite: str = DEFAULT_SUITE

    @classmethod
    def new(
        cls, proposal: pb.GovernanceProposal, crypto_suite: str = DEFAULT_SUITE
    ) -> ProposalFile:
        return cls(proposal.SerializeToString(deterministic=True), proposal, {}, crypto_suite)

    @classmethod
    def load(cls, path: Path) -> ProposalFile:
        """Read and check a proposal file: the proposal parses and matches the file's
        chain and channel, and every approval verifies over these exact bytes."""
        try:
            data = json.loads(Path(path).read_text())
        except OSError as e:
            raise ProposalError(f"{path}: cannot read: {e.strerror}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ProposalError(f"{path}: not a JSON proposal file: {e}") from None
        if not isinstance(data, dict) or not isinstance(data.get("proposal"), str):
            raise ProposalError(f"{path}: no `proposal` (hex) field")
        try:
            raw = bytes.fromhex(data["proposal"])
            proposal = pb.GovernanceProposal.FromString(raw)
        except (ValueError, DecodeError):
            raise ProposalError(f"{path}: `proposal` is not a hex GovernanceProposal") from None
        if proposal.WhichOneof("change") is None:
            raise ProposalError(f"{path}: the proposal changes nothing")
        for name in ("chain_id", "channel"):
            if data.get(name) != getattr(proposal, name):
                raise ProposalError(
                    f"{path}: `{name}` {data.get(name)!r} differs from the proposal's "
                    f"{getattr(proposal, name)!r}"
                )
        named = data.get("crypto_suite", DEFAULT_SUITE)
        if named not in SUITE_NAMES:
            raise ProposalError(f"{path}: `crypto_suite` must be one of {', '.join(SUITE_NAMES)}")
        out = cls(raw, proposal, {}, named)
        entries = data.get("approvals", [])
        if not isinstance(entries, list):
            raise ProposalError(f"{path}: `approvals` must be a list")
        suite = suite_by_name(named)
        for i, entry in enumerate(entries):
            where = f"{path}: approvals[{i}]"
            if not isinstance(entry, dict):
                raise ProposalError(f"{where}: expected {{validator, signature}}")
            key = parse_public_key(str(entry.get("validator", "")), f"{where}.validator")
            suite_of_key(key, f"{where}.validator", named)
            try:
                signature = bytes.fromhex(str(entry.get("signature", "")))
            except ValueError:
                signature = b""
            if not approval_verifies(raw, key, signature, suite):
                raise ProposalError(
                    f"{where}: the signature of {key.hex()[:16]} does not verify (the "
                    "proposal changed after it was approved, or the signature is corrupt)"
                ) from None
            if key in out.approvals:
                raise ProposalError(f"{where}: a second approval by {key.hex()[:16]}")
            out.approvals[key] = signature
        return out

    @property
    def summary(self) -> str:
        return describe(self.proposal)

    @property
    def tx_type(self) -> str:
        is_policy = self.proposal.WhichOneof("change") == "write_policy"
        return GOV_WRITE_POLICY if is_policy else GOV_VALIDATORS

    def to_json(self) -> dict[str, object]:
        suite = {} if self.crypto_suite == DEFAULT_SUITE else {"crypto_suite": self.crypto_suite}
        return {
            **suite,
            "chain_id": self.proposal.chain_id,
            "channel": self.proposal.channel,
            "summary": self.summary,
            "proposal": self.raw.hex(),
            "approvals": [
                {"validator": k.hex(), "signature": s.hex()} for k, s in self.approvals.items()
            ],
        }

    def save(self, path: Path) -> None:
        """Write via a temporary file and rename, so a crash never leaves half a file."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        os.replace(tmp, path)

    def add_approval(self, key: TxKey) -> bool:
        """Sign with `key` (of the file's suite); True if it replaced an earlier approval
        by the same key."""
        a = approve(self.raw, key)
        suite_of_key(a.validator, "the approving key", self.crypto_suite)
        replaced = a.validator in self.approvals
        self.approvals[a.validator] = a.signature
        return replaced

    def tx(self, key: TxKey, valid_until_height: int, nonce: int) -> bytes:
        payload = pb.GovernanceTx(
            proposal=self.raw,
            approvals=[
                pb.GovernanceApproval(validator=k, signature=s) for k, s in self.approvals.items()
            ],
        )
        body = api.TxBody(
            chain_id=self.proposal.chain_id,
            channel=self.proposal.channel,
            type=self.tx_type,
            payload=payload.SerializeToString(deterministic=True),
            nonce=nonce,
            valid_until_height=valid_until_height,
        )
        return encode_tx(body, key)
