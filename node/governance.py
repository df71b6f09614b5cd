"""Governance txs on the node's side: read them for the consensus core, check them at
admission, and load the membership a channel's world state keeps.

The format (type names, keys, parsing, approvals) is chains/governance.py, shared with
the CLI; whether a proposal applies is the core's verdict at commit.
"""

from __future__ import annotations

from chains.governance import KINDS, parse_governance
from chains.tx import DecodedTx, TxError, decode_tx
from consensus.membership import GovernanceTx, Membership
from protos import consensus_pb2 as pb


def read_governance(
    raw: bytes, chain_id: str, channel: str, tx_bytes_max: int
) -> GovernanceTx | None:
    """`TxChecker.governance`: asked for every committed tx, so ordinary txs leave at a
    substring test. A tx the executor refuses before governance (undecodable, another
    channel) is None here too, so the core never applies what the executor refused."""
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


def admission_problem(tx: DecodedTx) -> str | None:
    """Why a governance tx is refused at admission (shape only: the approvals are judged
    when it commits, against the validator set of that height)."""
    parsed = parse_governance(tx)
    return parsed if isinstance(parsed, str) else None


def membership_of(state: bytes | None, genesis_validators: tuple[bytes, ...]) -> Membership:
    """The membership kept in a channel's world state (the genesis set if none yet)."""
    if state is None:
        return Membership.genesis(genesis_validators)
    return Membership.from_pb(pb.MembershipState.FromString(state))
