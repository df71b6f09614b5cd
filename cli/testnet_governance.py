"""`govchain testnet add-validator | remove-validator`: a governance round on a local
testnet in one command, for trying the flow and for tests.

In a real consortium the approvals are gathered operator by operator (`govchain
governance propose | approve | submit`, cli/governance.py). A testnet directory holds
every validator key, so this command runs the whole round per channel: propose with the
channel's current governance sequence, approve with the key of every testnet node in the
current set, submit with the department tx key of a current validator whose key the
genesis registers (so a `--app government` testnet's write policy lets it submit), and print the
height the new set starts at. With --wait it then polls every node that answered until
each reports the new set as current, printing progress, so a script can go on knowing
the switch is done everywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import grpc
import nacl.signing

from cli.governance import guarded, submit_proposal
from cli.proposal_file import ProposalError, ProposalFile, load_signing_key, make_proposal
from cli.testnet_files import node_address, node_dirs, tls_of_testnet
from client.connection import connect
from consensus.config import quorum_of
from node.config import CHANNELS, NodeConfig, load_config
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc

PROGRESS_INTERVAL_S = 2.0


@dataclass(frozen=True)
class TestnetNode:
    __test__ = False  # not a test class, despite the name

    config: NodeConfig
    address: str
    key: nacl.signing.SigningKey

    @property
    def name(self) -> str:
        return self.config.node_id

    @property
    def public(self) -> bytes:
        return bytes(self.key.verify_key)


def testnet_nodes(root: Path) -> list[TestnetNode]:
    out = []
    for d in node_dirs(root):
        config = load_config(d / "config.toml")
        out.append(TestnetNode(config, node_address(d), load_signing_key(config.key_file)))
    return out


def _status(stub: api_grpc.ClientStub) -> api.GetStatusResponse | None:
    try:
        return stub.GetStatus(api.GetStatusRequest(), timeout=2.0)
    except grpc.RpcError:
        return None


def _channel(reply: api.GetStatusResponse, channel: str) -> api.ChannelStatus | None:
    return next((c for c in reply.channels if c.channel == channel), None)


def _registered(root: Path, channel: str) -> set[bytes]:
    """Department tx keys the channel's genesis registers (they hold write-policy roles)."""
    data = json.loads((root / "genesis" / f"{channel}.json").read_text())
    entries = data.get("app", {}).get("departments", [])
    return {bytes.fromhex(k) for e in entries for k in e.get("keys", [])}


def _round(
    root: Path,
    nodes: list[TestnetNode],
    stubs: dict[str, api_grpc.ClientStub],
    target: TestnetNode,
    channel: str,
    add: bool,
    timeout_s: float,
) -> int | None:
    """Propose, approve and submit one change on `channel`; the switch height, or None."""
    serving = _serving(nodes, stubs, channel)
    ref = max(serving.values(), key=lambda c: c.height)  # the most advanced view of the set
    current = list(ref.validators)
    _check_change(channel, ref, target, add)
    members = [n for n in nodes if n.public in current]
    if len(members) < quorum_of(len(current)):
        raise ProposalError(
            f"{channel}: only {len(members)} of the {len(current)} validators have keys in "
            f"{root}; {quorum_of(len(current))} approvals are needed"
        )
    chain_id, sequence = target.config.chain_id, ref.governance_sequence
    if add:
        proposal = make_proposal(chain_id, channel, sequence, add=(target.public, target.address))
    else:
        proposal = make_proposal(chain_id, channel, sequence, remove=target.public)
    pf = ProposalFile.new(proposal)
    for member in members:
        pf.add_approval(member.key)
    submitter = _submitter(root, channel, members, serving)
    print(f"{channel}: {pf.summary}", flush=True)
    print(
        f"{channel}: approved by {', '.join(m.name for m in members)}; "
        f"submitting to {submitter.name}",
        flush=True,
    )
    outcome = submit_proposal(stubs[submitter.name], pf, _tx_key(submitter), timeout_s)
    print(f"{channel}: {outcome.describe()}", flush=True)
    return outcome.switch_height if outcome.accepted else None


def _serving(
    nodes: list[TestnetNode], stubs: dict[str, api_grpc.ClientStub], channel: str
) -> dict[str, api.ChannelStatus]:
    """The status of `channel` on each node that answers for it (at least one)."""
    replies = {n.name: r for n in nodes if (r := _status(stubs[n.name])) is not None}
    serving = {name: ch for name, r in replies.items() if (ch := _channel(r, channel))}
    if not serving:
        raise ProposalError(f"{channel}: no node of the testnet answers for this channel")
    return serving


def _check_change(channel: str, ref: api.ChannelStatus, target: TestnetNode, add: bool) -> None:
    """Refuse a change while another is pending, or one that would change nothing."""
    current = list(ref.validators)
    if ref.next_set_from_height:
        raise ProposalError(
            f"{channel}: a validator change is pending (new set from height "
            f"{ref.next_set_from_height}); run this again once it is done"
        )
    if add and target.public in current:
        raise ProposalError(f"{channel}: {target.name} is already a validator")
    if not add and target.public not in current:
        raise ProposalError(f"{channel}: {target.name} is not a validator")


def _tx_key(n: TestnetNode) -> nacl.signing.SigningKey:
    """A node's department tx key (it signs the governance tx)."""
    if n.config.department_key_file is None:
        raise ProposalError(f"{n.name}: its config names no department_key_file")
    return load_signing_key(n.config.department_key_file)


def _submitter(
    root: Path, channel: str, members: list[TestnetNode], serving: dict[str, api.ChannelStatus]
) -> TestnetNode:
    """The validator to submit through: one that answers and sees itself in the set (it
    takes client txs; an observer refuses them), preferring one whose department tx key
    the genesis registers (it holds a write-policy role)."""
    registered = _registered(root, channel)
    running = [m for m in members if m.name in serving and serving[m.name].member]
    if not running:
        raise ProposalError(f"{channel}: no current validator answers; start the testnet")
    running.sort(key=lambda m: bytes(_tx_key(m).verify_key) not in registered)
    return running[0]


def _wait_switch(
    nodes: list[TestnetNode],
    stubs: dict[str, api_grpc.ClientStub],
    target: bytes,
    add: bool,
    switches: dict[str, int],
    deadline: float,
) -> bool:
    """Poll until every node that answers reports the new set as current on each channel."""
    watched = [n for n in nodes if _status(stubs[n.name]) is not None]
    next_print = 0.0
    while True:
        pending: list[str] = []
        for channel, switch in switches.items():
            done, heights = 0, []
            for n in watched:
                reply = _status(stubs[n.name])
                ch = _channel(reply, channel) if reply is not None else None
                if ch is None:
                    continue
                heights.append(ch.height)
                done += (target in ch.validators) == add
            if done < len(watched):
                low, high = (min(heights), max(heights)) if heights else (0, 0)
                pending.append(
                    f"{channel} {done}/{len(watched)} nodes on the new set "
                    f"(heights {low}-{high}, switch at {switch})"
                )
        if not pending:
            print(f"every node reports the new set on {', '.join(switches)}", flush=True)
            return True
        now = time.monotonic()
        if now > deadline:
            print(f"timed out waiting: {'; '.join(pending)}", file=sys.stderr)
            return False
        if now >= next_print:
            print(f"waiting: {'; '.join(pending)}", flush=True)
            next_print = now + PROGRESS_INTERVAL_S
        time.sleep(0.2)


def cmd_testnet_change_validator(args: argparse.Namespace, add: bool) -> int:
    root: Path | None = args.dir_opt or args.dir
    if root is None:
        print("give the testnet directory (DIR or --dir DIR)", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.timeout
    nodes = testnet_nodes(root)
    target = next((n for n in nodes if n.name == args.node), None)
    if target is None:
        names = ", ".join(n.name for n in nodes) or "none"
        raise ProposalError(f"{root}: no node {args.node!r} (nodes: {names})")
    tls = tls_of_testnet(root)
    stubs = {n.name: connect(n.address, tls) for n in nodes}
    switches: dict[str, int] = {}
    for channel in args.channels or target.config.channels:
        switch = _round(root, nodes, stubs, target, channel, add, args.timeout)
        if switch is None:
            return 1
        switches[channel] = switch
    if args.wait and not _wait_switch(nodes, stubs, target.public, add, switches, deadline):
        return 1
    return 0


def add_testnet_governance_parsers(t: argparse._SubParsersAction) -> None:
    """`testnet add-validator` and `testnet remove-validator` (under `govchain testnet`)."""
    for name, add, helptext in (
        ("add-validator", True, "make a testnet node a validator of its channels by governance"),
        ("remove-validator", False, "remove a validator from its channels by governance"),
    ):
        c = t.add_parser(name, help=helptext)
        c.add_argument("dir", nargs="?", type=Path, help="the testnet directory")
        c.add_argument("--dir", dest="dir_opt", type=Path, help="the same, as an option")
        c.add_argument("--node", required=True, help="the node's name (its directory)")
        c.add_argument("--channels", nargs="+", choices=CHANNELS, help="default: the node's")
        c.add_argument("--wait", action="store_true", help="wait until every node switched")
        c.add_argument("--timeout", type=float, default=120.0, help="seconds, for all waits")
        run = partial(cmd_testnet_change_validator, add=add)
        c.set_defaults(func=guarded(run, "govchain testnet"))
