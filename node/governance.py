"""Governance txs on the node's side: read them for the consensus core, check them at
admission, and load the membership a channel's world state keeps.

The format (type names, keys, parsing, approvals) and reading a committed tx for the core
(`read_governance`, re-exported here) are chains/governance.py, shared with the CLI and
the replays of validator sets (client/set_replay.py); whether a proposal applies is the
core's verdict at commit.
"""

from __future__ import annotations

from chains.governance import parse_governance, read_governance
from chains.tx import DecodedTx
from consensus.membership import Membership
from protos import consensus_pb2 as pb

__all__ = ["admission_problem", "membership_of", "read_governance"]


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
