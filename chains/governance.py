"""Governance txs, the format: what a governance tx is, where its effects are kept, and
how a proposal is approved and shown to the operator who approves it.

A governance tx is an ordinary signed tx of type `gov.validators` or `gov.write_policy`
("gov" always means governance) whose payload is a `GovernanceTx`: a serialized
`GovernanceProposal` and the approvals of validators, each a signature in the chain's
crypto suite (Ed25519, or SM2 on `sm2-sm3`) over "govchain-governance" + the proposal
bytes. Who may *submit* one is the channel's write
policy; whether it *applies* is the approvals, which the consensus core judges when the
tx commits (consensus/membership.py), so every replica reaches the same verdict at the
same height. The node (node/governance.py) and the CLI's `governance` commands both use
this module, so it lives below both.
"""

from __future__ import annotations

import json

import nacl.exceptions
import nacl.signing
from google.protobuf.message import DecodeError

from chains.base import NODE_KEY_PREFIX, Departments
from chains.policy import PolicyError, WritePolicy
from chains.tx import DecodedTx, TxError, decode_tx
from consensus.canonical import NonCanonical, decode_canonical
from consensus.membership import (
    KIND_VALIDATORS,
    KIND_WRITE_POLICY,
    GovernanceTx,
    approval_bytes,
)
from crypto import DEFAULT_SUITE, Suite, SuiteSigner
from protos import consensus_pb2 as pb

GOV_VALIDATORS = "gov.validators"
GOV_WRITE_POLICY = "gov.write_policy"
KINDS = {GOV_VALIDATORS: KIND_VALIDATORS, GOV_WRITE_POLICY: KIND_WRITE_POLICY}
# World-state keys under the node's prefix, which no application may write (the executor
# and chains.base hold that).
MEMBERSHIP_KEY = NODE_KEY_PREFIX + b"gov/membership"
WRITE_POLICY_KEY = NODE_KEY_PREFIX + b"gov/write_policy"


def parse_governance(tx: DecodedTx) -> tuple[pb.GovernanceTx, pb.GovernanceProposal] | str:
    """The payload and proposal of a governance tx, or why they are unusable."""
    try:
        msg = decode_canonical(pb.GovernanceTx, tx.body.payload)
        proposal = decode_canonical(pb.GovernanceProposal, msg.proposal)
    except DecodeError:
        return "the governance payload does not parse"
    except NonCanonical:
        return "the governance payload is not canonically encoded"
    if proposal.chain_id != tx.body.chain_id:
        return f"a proposal for network {proposal.chain_id!r}"
    if proposal.channel != tx.body.channel:
        return f"a proposal for channel {proposal.channel!r} in a tx of {tx.body.channel!r}"
    change = proposal.WhichOneof("change")
    if change is None:
        return "the proposal changes nothing"
    if (change == "write_policy") != (tx.body.type == GOV_WRITE_POLICY):
        return f"a {change} proposal in a {tx.body.type} tx"
    if change == "write_policy":
        why = policy_problem(proposal.write_policy)
        if why is not None:
            return why
    return msg, proposal


POLICY_BYTES_MAX = 16 << 10
POLICY_DEPTH_MAX = 4  # a policy is an object of arrays of strings: depth 2


def json_depth(raw: bytes) -> int:
    """The deepest nesting of brackets outside strings. Checked before `json.loads`, whose
    recursion limit depends on the caller's stack: a verdict must not."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def policy_problem(raw: bytes) -> str | None:
    """Why `raw` is not a usable write policy (JSON as in genesis), or None. Part of the
    consensus verdict on a governance tx, so it must be deterministic and never raise."""
    if len(raw) > POLICY_BYTES_MAX:
        return f"the write policy is {len(raw)} bytes, more than {POLICY_BYTES_MAX}"
    if json_depth(raw) > POLICY_DEPTH_MAX:
        return "the write policy is nested too deeply"
    try:
        WritePolicy.from_params(json.loads(raw), Departments())
    except (ValueError, PolicyError) as e:
        return f"the write policy is invalid: {e}"
    return None


def approve(proposal: bytes, key: nacl.signing.SigningKey | SuiteSigner) -> pb.GovernanceApproval:
    """A validator's approval, signed with its key of the chain's suite: Ed25519 (a nacl
    key, or a token key in its shape), or a suite's signer (SM2 on `sm2-sm3`)."""
    data = approval_bytes(proposal)
    if isinstance(key, SuiteSigner):
        return pb.GovernanceApproval(validator=key.public_key, signature=key.sign(data))
    signature = key.sign(data).signature
    return pb.GovernanceApproval(validator=bytes(key.verify_key), signature=signature)


def approval_verifies(
    proposal: bytes, validator: bytes, signature: bytes, suite: Suite | None = None
) -> bool:
    """Whether an approval verifies over the proposal in the chain's suite (None or
    `ed25519-sha256`: Ed25519 by libsodium, as ever), the check the consensus core makes
    with the node's suite verifier (consensus/membership.py)."""
    data = approval_bytes(proposal)
    if suite is not None and suite.name != DEFAULT_SUITE:
        return suite.verify(validator, data, signature)
    try:
        nacl.signing.VerifyKey(validator).verify(data, signature)
    except (ValueError, TypeError, nacl.exceptions.BadSignatureError):
        return False
    return True


def describe(proposal: pb.GovernanceProposal) -> str:
    """One line a validator's operator reads before approving."""
    change = proposal.WhichOneof("change")
    where = (
        f"channel {_printable(proposal.channel)!r} of {_printable(proposal.chain_id)!r}, "
        f"sequence {proposal.sequence}"
    )
    if change == "add_validator":
        add = proposal.add_validator
        return f"add validator {add.public_key.hex()} at {_printable(add.address)} to {where}"
    if change == "replace_validator":
        old, new = proposal.replace_validator.old_key, proposal.replace_validator.replacement
        return (
            f"replace validator {old.hex()} by {new.public_key.hex()} at "
            f"{_printable(new.address)} in {where}"
        )
    if change == "remove_validator":
        return f"remove validator {proposal.remove_validator.hex()} from {where}"
    policy = _printable(proposal.write_policy.decode(errors="replace"))
    return f"set the write policy of {where} to {policy}"


def _printable(text: str) -> str:
    """Control characters escaped: what an approver reads must be what they approve."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def read_governance(
    raw: bytes, chain_id: str, channel: str, tx_bytes_max: int
) -> GovernanceTx | None:
    """A committed tx as the consensus core judges it (`TxChecker.governance` in the node;
    the sets a joiner or an archive check replays, client/set_replay.py): asked for every
    committed tx, so ordinary txs leave at a substring test. A tx the executor refuses
    before governance (undecodable, another channel) is None here too, so the core never
    applies what the executor refused."""
    if b"gov." not in raw:
        return None
    try:
        tx = decode_tx(raw, chain_id, tx_bytes_max)
    except TxError:
        return None
    kind = KINDS.get(tx.body.type)
    if kind is None or tx.body.channel != channel:
        return None
    until = tx.body.valid_until_height
    parsed = parse_governance(tx)
    if isinstance(parsed, str):
        return GovernanceTx(kind, b"", (), until, problem=parsed)
    msg, _ = parsed
    approvals = tuple((a.validator, a.signature) for a in msg.approvals)
    return GovernanceTx(kind, msg.proposal, approvals, until)
