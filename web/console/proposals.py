"""Governance proposals waiting for approvals, as the console shows and approves them.

Proposals travel as files (`govchain governance propose` writes one; cli/proposal_file.py
is the format); a department's console lists the ones in its proposals directory. The
file format belongs to the CLI, which sits above this package, so the CLI hands the
console a `ProposalStore` over its own reader (cli/console_proposals.py) and this module
only says what the console needs of one, and judges each proposal against the chain:
stale once the channel's governance sequence moved past it, how many approvals of the
current set it has, whether this department's validator has approved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import nacl.signing

from consensus.config import quorum_of
from protos import api_pb2 as api

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.json$")


class ProposalProblem(ValueError):
    """A proposal file cannot be read or approved; the message says why."""


@dataclass(frozen=True)
class Proposal:
    name: str  # the file name in the proposals directory
    channel: str
    sequence: int
    summary: str
    approvals: tuple[bytes, ...]


class ProposalStore(Protocol):
    def proposals(self) -> list[Proposal | tuple[str, str]]:
        """Every proposal file: a Proposal, or (file name, why it is unreadable)."""
        ...

    def approve(self, name: str, key: nacl.signing.SigningKey) -> Proposal:
        """Add the key's approval to the named file; ProposalProblem if it cannot."""
        ...


@dataclass(frozen=True)
class Judged:
    proposal: Proposal
    state: str  # pending, stale, unknown channel
    approvals_in_set: int
    quorum: int
    validators: int
    approved_by_us: bool
    can_approve: bool


def check_name(name: str) -> str:
    """A bare proposal file name (no directories), or ProposalProblem."""
    if not NAME.match(name):
        raise ProposalProblem("a proposal is named by its file name, e.g. add-node-5.json")
    return name


def judge(proposal: Proposal, status: api.ChannelStatus | None, our_key: bytes | None) -> Judged:
    if status is None:
        return Judged(proposal, "unknown channel", 0, 0, 0, False, False)
    validators = list(status.validators)
    quorum = quorum_of(len(validators))
    in_set = sum(1 for k in proposal.approvals if k in validators)
    stale = proposal.sequence < status.governance_sequence
    ours = our_key is not None and our_key in proposal.approvals
    can = our_key is not None and our_key in validators and not stale
    return Judged(
        proposal, "stale" if stale else "pending", in_set, quorum, len(validators), ours, can
    )
