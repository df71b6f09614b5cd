"""`govchain governance propose | approve | submit`: change a channel's validator set (add,
remove, or replace one key by another: a validator's key rotation) or write policy by a
proposal a quorum of its validators approves.

`propose` writes a proposal file (cli/proposal_file.py) naming the channel's current
governance sequence; each validator's operator runs `approve` where their validator key
lives (the key never leaves that machine and is never printed), after reading the summary
computed from the proposal bytes; whoever the channel's write policy allows then runs
`submit`. The consensus core judges the approvals when the tx commits
(consensus/membership.py), so every replica reaches the same verdict at the same height;
`submit` waits for that verdict and reports it, with the height a new set starts at.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from chains.governance import GOV_VALIDATORS, MEMBERSHIP_KEY
from chains.registry import public_key_of
from cli.proposal_file import (
    ProposalError,
    ProposalFile,
    canonical_policy,
    load_signing_key,
    make_proposal,
    node_suite,
    parse_address,
    parse_public_key,
    suite_of_key,
)
from cli.testnet import DEFAULT_CHAIN_ID
from client.connection import connect
from client.txs import TxKey, TxRefused, wait_committed
from crypto import SUITE_NAMES
from node.config import CHANNELS
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import consensus_pb2 as pb

Command = Callable[[argparse.Namespace], int]


class NotCommitted(ProposalError):
    """The node refused the tx at admission, or it did not commit in time (exit code 1)."""


VALID_BLOCKS = 1000  # a submitted governance tx expires this many blocks above the tip
# Result codes of node/executor.py, by value.
RESULT_NAMES = ("OK", "MALFORMED", "WRONG_CHANNEL", "EXPIRED", "DUPLICATE", "NOT_PERMITTED")
GOVERNANCE_REFUSED = 6


# --------------------------------------------------------------------- talking to a node


def channel_status(stub: api_grpc.ClientStub, channel: str) -> api.ChannelStatus:
    reply = stub.GetStatus(api.GetStatusRequest(), timeout=5.0)
    for ch in reply.channels:
        if ch.channel == channel:
            return ch
    served = ", ".join(c.channel for c in reply.channels) or "none"
    raise ProposalError(f"the node does not serve channel {channel!r} (it serves: {served})")


@dataclass(frozen=True)
class Outcome:
    """What became of a submitted governance tx once it committed."""

    code: int
    reason: str
    height: int  # the block it committed in
    switch_height: int = 0  # first height of the new validator set (validator changes)

    @property
    def accepted(self) -> bool:
        return self.code == 0

    def describe(self) -> str:
        if self.accepted:
            switch = f"; new set from height {self.switch_height}" if self.switch_height else ""
            return f"accepted at height {self.height}{switch}"
        if self.code == GOVERNANCE_REFUSED:
            return f"refused at height {self.height}: {self.reason}"
        name = RESULT_NAMES[self.code] if self.code < len(RESULT_NAMES) else str(self.code)
        return f"failed at height {self.height}: {name} {self.reason}"


def _switch_height(stub: api_grpc.ClientStub, channel: str) -> int:
    """The first height of the set just scheduled: GetStatus's next_set_from_height, or,
    if the switch already happened, the latest epoch in the channel's world state."""
    scheduled = channel_status(stub, channel).next_set_from_height
    if scheduled:
        return scheduled
    state = stub.GetState(api.GetStateRequest(channel=channel, key=MEMBERSHIP_KEY), timeout=5)
    if not state.found:
        return 0
    return pb.MembershipState.FromString(state.value).epochs[-1].first_height


def submit_proposal(
    stub: api_grpc.ClientStub, pf: ProposalFile, key: TxKey, timeout_s: float
) -> Outcome:
    """Sign the governance tx with `key`, submit it and wait (polling, with a deadline)
    until it commits. Raises ProposalError if it is not admitted or does not commit."""
    channel = pf.proposal.channel
    tip = channel_status(stub, channel).height
    raw = pf.tx(key, tip + VALID_BLOCKS, time.time_ns())
    try:
        (result,) = stub.SubmitTransactions(api.SubmitRequest(txs=[raw]), timeout=10).results
    except grpc.RpcError as e:
        raise NotCommitted(f"not admitted: {e.code().name}: {e.details()}") from None
    if result.status != api.ACCEPTED:
        raise NotCommitted(f"not admitted: {api.TxStatus.Name(result.status)} {result.detail}")
    try:
        found = wait_committed(stub, channel, result.tx_id, timeout_s)
    except TxRefused as e:
        raise NotCommitted(str(e)) from None
    outcome = Outcome(found.result.code, found.result.reason, found.height)
    if outcome.accepted and pf.tx_type == GOV_VALIDATORS:
        outcome = Outcome(outcome.code, "", found.height, _switch_height(stub, channel))
    return outcome


# --------------------------------------------------------------------- commands


def _stub(args: argparse.Namespace) -> api_grpc.ClientStub:
    from cli.main import _client_tls  # the CLI's one rule for finding client certificates

    return connect(args.node, _client_tls(args))


def _change(args: argparse.Namespace) -> dict[str, object]:
    if (args.with_key is not None) != (args.replace_validator is not None):
        raise ProposalError("--replace-validator OLD goes with --with NEW (and --address)")
    if args.add_validator is not None or args.replace_validator is not None:
        flag = "--add-validator" if args.add_validator is not None else "--with"
        if not args.address:
            raise ProposalError(f"{flag} needs --address HOST:PORT (where it listens)")
        key = parse_public_key(args.add_validator or args.with_key, flag)
        if args.add_validator is not None:
            return {"add": (key, parse_address(args.address))}
        old = parse_public_key(args.replace_validator, "--replace-validator")
        return {"replace": (old, key, parse_address(args.address))}
    if args.address:
        raise ProposalError("--address goes with --add-validator or --replace-validator")
    if args.remove_validator is not None:
        return {"remove": parse_public_key(args.remove_validator, "--remove-validator")}
    try:
        raw = Path(args.write_policy).read_bytes()
    except OSError as e:
        raise ProposalError(f"{args.write_policy}: cannot read: {e.strerror}") from None
    return {"policy": canonical_policy(raw, str(args.write_policy))}


def _keys_of(change: dict[str, object]) -> tuple[bytes | None, bytes | None]:
    """The key a validator change brings in and the one it takes out (None: none)."""
    if "add" in change:
        return change["add"][0], None  # type: ignore[index]
    if "replace" in change:
        old, new, _ = change["replace"]  # type: ignore[misc]
        return new, old
    return None, change.get("remove")  # type: ignore[return-value]


def _warnings(status: api.ChannelStatus, change: dict[str, object]) -> list[str]:
    """What the core would refuse as things stand (they may change before submission)."""
    if "policy" in change:
        return []
    out = []
    if status.next_set_from_height:
        out.append(
            f"a validator change is pending (new set from height "
            f"{status.next_set_from_height}); submit this one after it"
        )
    latest = list(status.next_validators or status.validators)
    joining, leaving = _keys_of(change)
    if joining is not None and joining in latest:
        out.append("the key is already a validator of the channel")
    if leaving is not None and leaving not in latest:
        out.append("the key is not a validator of the channel")
    return out


def _suite(args: argparse.Namespace, change: dict[str, object], validators: list[bytes]) -> str:
    """The chain's crypto suite: its validators' (their key length names it, as the
    genesis does), else --crypto-suite, else the default; a validator key in the change
    must be of it."""
    status = api.GetStatusResponse(channels=[api.ChannelStatus(validators=validators)])
    suite = node_suite(status, args.crypto_suite)
    for key in _keys_of(change):
        if key is not None:
            suite_of_key(key, "the validator key", suite)
    return suite


def cmd_propose(args: argparse.Namespace) -> int:
    change = _change(args)  # input errors before any network call
    sequence = args.sequence
    chain_id = args.chain_id
    validators: list[bytes] = []
    if args.node:
        stub = _stub(args)
        status = channel_status(stub, args.channel)
        validators = list(status.validators)
        if chain_id is None:
            chain_id = stub.GetStatus(api.GetStatusRequest(), timeout=10).chain_id
        if sequence is None:
            sequence = status.governance_sequence
        for warning in _warnings(status, change):
            print(f"warning: {warning}", file=sys.stderr)
    elif sequence is None:
        raise ProposalError("without --node, give --sequence (the channel's governance sequence)")
    pf = ProposalFile.new(
        make_proposal(chain_id or DEFAULT_CHAIN_ID, args.channel, sequence, **change),
        _suite(args, change, validators),
    )
    pf.save(args.out)
    print(pf.summary)
    print(f"written to {args.out}; next: `govchain governance approve {args.out} --key KEY`")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    pf = ProposalFile.load(args.file)
    key = load_signing_key(args.key, suite=pf.crypto_suite)  # SM2 on an sm2-sm3 chain
    print(pf.summary)
    replaced = pf.add_approval(key)
    pf.save(args.file)
    verb = "replaced the approval" if replaced else "approved"
    print(f"{verb} as validator {public_key_of(key).hex()} ({len(pf.approvals)} approvals)")
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    pf = ProposalFile.load(args.file)
    key = load_signing_key(args.key, suite=pf.crypto_suite)
    print(f"{pf.summary} ({len(pf.approvals)} approvals)")
    outcome = submit_proposal(_stub(args), pf, key, args.timeout)
    print(outcome.describe())
    return 0 if outcome.accepted else 1


def guarded(func: Command, command: str = "govchain governance") -> Command:
    """Input errors and RPC failures as one line on stderr, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except ProposalError as e:
            print(f"{command}: {e}", file=sys.stderr)
            return 1 if isinstance(e, NotCommitted) else 2
        except grpc.RpcError as e:
            print(f"{e.code().name}: {e.details()}", file=sys.stderr)
            return 1

    return run


def add_governance_parser(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser(
        "governance", help="propose, approve and submit validator-set and write-policy changes"
    ).add_subparsers(dest="action", required=True)
    p = g.add_parser("propose", help="write a proposal file for the validators to approve")
    p.add_argument("--node", help="a node of the channel (default sequence, checks)")
    p.add_argument("--tls", type=Path, help="dir with ca.crt, client.crt, client.key")
    p.add_argument("--channel", required=True, choices=CHANNELS)
    p.add_argument(
        "--chain-id", default=None, help=f"default: the node's, or {DEFAULT_CHAIN_ID!r} offline"
    )
    change = p.add_mutually_exclusive_group(required=True)
    change.add_argument("--add-validator", metavar="KEYHEX")
    change.add_argument("--remove-validator", metavar="KEYHEX")
    change.add_argument("--write-policy", type=Path, metavar="FILE.json")
    change.add_argument("--replace-validator", metavar="KEYHEX", help="with --with NEW")
    p.add_argument("--with", dest="with_key", metavar="KEYHEX", help="the replacing key")
    p.add_argument("--address", metavar="HOST:PORT", help="where the new validator listens")
    p.add_argument("--sequence", type=int, help="default: the node's governance sequence")
    p.add_argument(
        "--crypto-suite",
        choices=SUITE_NAMES,
        help="the chain's suite, offline (default: the node's validators', else Ed25519)",
    )
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=guarded(cmd_propose))
    a = g.add_parser("approve", help="add this validator's approval to a proposal file")
    a.add_argument("file", type=Path)
    a.add_argument("--key", type=Path, required=True, help="validator key file")
    a.set_defaults(func=guarded(cmd_approve))
    s = g.add_parser("submit", help="submit an approved proposal and wait for its verdict")
    s.add_argument("file", type=Path)
    s.add_argument("--node", default="127.0.0.1:7050")
    s.add_argument("--tls", type=Path, help="dir with ca.crt, client.crt, client.key")
    s.add_argument("--key", type=Path, required=True, help="tx key the write policy allows")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the commit")
    s.set_defaults(func=guarded(cmd_submit))
