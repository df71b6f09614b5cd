"""`govchain terminal register|revoke|prove`: a department registers each of its kiosks
(or hall desks, apps) with the terminal's own key, and revokes one whose key is lost or
stolen, on every channel of the network.

A terminal signs on three channels: identity checks on the authentication chain (which
keeps its own terminal records), grants on the authorization chain and case steps on
the service chain (which learn terminal keys from the department registry every channel
keeps, chains/registry.py). So `register` sends `authentication.register_terminal` and
then `registry.add_terminal` to every channel the node serves, and `revoke` sends
`authentication.revoke_terminal` and `registry.remove_terminal` to every channel, each
signed with the department's tx key (`--department-key`, a key spec as in `govchain
keygen`: a hex or encrypted file, or a pkcs11: URI), each waited for until committed.
A step already done (an interrupted run, run again) is reported and skipped.

The terminal's key never comes near `register` unless the operator chooses so: the
registry wants the terminal key's proof of possession, which `govchain terminal prove`
makes on the kiosk itself (`--terminal-key`, the kiosk's key file) and prints with the
public key; `register` takes both (`--public-key`, `--proof`). Where the department sets
the kiosk up itself, `register --terminal-key` makes the proof in place.

A revocation counts from the next block of each channel on: the revoked terminal records
no more identity checks, signs no grant or case step, and every provider refuses pulls
under grants it brokered (docs/applications.md "Terminal revocation").

Exit codes: 0 done on every channel, 1 refused by a chain or the node unreachable (what
each channel did is printed), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.message import Message

from chains.authentication import REGISTER_TERMINAL, REVOKE_TERMINAL, TERMINAL_KINDS, revocation
from chains.registry import (
    ADD_TERMINAL,
    DEPARTMENT_KEYS_KEY,
    REMOVE_TERMINAL,
    public_key_of,
    terminal_proof,
)
from cli.proposal_file import ProposalError, node_suite
from cli.testnet import DEFAULT_CHAIN_ID
from client.connection import client_tls, connect, load_signing_key
from client.keys import KeyCustodyError
from client.state import ChainState
from client.tls import TlsFiles
from client.txs import TxRejected, send_message
from crypto import DEFAULT_SUITE, SUITE_NAMES
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import government_pb2 as government

AUTHENTICATION = "authentication"


class BadInput(ValueError):
    """Exit 2: the command line is wrong; nothing was sent."""


def _tls(args: argparse.Namespace) -> TlsFiles | None:
    """--tls DIR, else $GOVCHAIN_TLS_DIR, else plaintext (an `insecure = true` node)."""
    directory = args.tls or os.environ.get("GOVCHAIN_TLS_DIR")
    return client_tls(directory) if directory else None


def _hex(value: str, option: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise BadInput(
            f"{option} is not hex (give what `govchain terminal prove` printed)"
        ) from None


def _key_and_proof(args: argparse.Namespace) -> Callable[[str], tuple[bytes, bytes]]:
    """The terminal's public key and its proof of possession for this department, given
    the chain's crypto suite (a key made here is of it); the input is checked now."""
    if args.terminal_key:
        if args.public_key or args.proof:
            raise BadInput("give --terminal-key, or --public-key with --proof, not both")

        def made_here(suite: str) -> tuple[bytes, bytes]:
            key = load_signing_key(args.terminal_key, suite=suite)
            proof = terminal_proof(key, args.chain_id, args.department, args.terminal_id)
            return public_key_of(key), proof

        return made_here
    if not (args.public_key and args.proof):
        raise BadInput("give --public-key and --proof (from `govchain terminal prove`)")
    given = _hex(args.public_key, "--public-key"), _hex(args.proof, "--proof")
    return lambda suite: given


def registry_entry(stub: api_grpc.ClientStub, channel: str, terminal_id: str):
    """The channel's registry entry of that id as its state holds it (None: the entry is
    in no record yet, though it may be in the genesis)."""
    got = stub.GetState(api.GetStateRequest(channel=channel, key=DEPARTMENT_KEYS_KEY), timeout=5)
    if not got.found:
        return None
    entries = api.DepartmentKeys.FromString(got.value).departments
    return next((d for d in entries if d.id == terminal_id), None)


@dataclass(frozen=True)
class Step:
    """One tx on one channel; `done` says why it need not be sent (an earlier run)."""

    channel: str
    tx_type: str
    payload: Message
    done: Callable[[api_grpc.ClientStub], str | None]
    verb: str


Steps = Callable[[list[str], str], list[Step]]  # (channels, the chain's suite) -> txs


def _register_steps(args: argparse.Namespace) -> Steps:
    """The registration's txs for the given channels (the input is checked first)."""
    key_and_proof = _key_and_proof(args)
    return lambda channels, suite: _registration(args, *key_and_proof(suite))(channels)


def _registration(
    args: argparse.Namespace, public: bytes, proof: bytes
) -> Callable[[list[str]], list[Step]]:
    terminal = government.Terminal(
        terminal_id=args.terminal_id,
        kind=args.kind,
        department=args.department,
        public_key=public,
        location=args.location,
    )
    add = api.AddTerminal(terminal_id=args.terminal_id, public_key=public, proof=proof)

    def registered(stub: api_grpc.ClientStub) -> str | None:
        found = ChainState(stub).terminal(args.terminal_id)
        return "registered already" if found and found.public_key == public else None

    def added(channel: str) -> Callable[[api_grpc.ClientStub], str | None]:
        def check(stub: api_grpc.ClientStub) -> str | None:
            entry = registry_entry(stub, channel, args.terminal_id)
            return "added already" if entry is not None and public in entry.keys else None

        return check

    return lambda channels: [
        Step(AUTHENTICATION, REGISTER_TERMINAL, terminal, registered, "registered"),
        *(Step(c, ADD_TERMINAL, add, added(c), "added") for c in channels),
    ]


def _revoke_steps(args: argparse.Namespace) -> Steps:
    """The revocation's txs for the given channels."""
    revoke = government.RevokeTerminal(terminal_id=args.terminal_id, reason=args.reason)
    remove = api.RemoveTerminal(terminal_id=args.terminal_id)

    def revoked(stub: api_grpc.ClientStub) -> str | None:
        found = revocation(ChainState(stub).terminal(args.terminal_id))
        return "revoked already" if found else None

    def removed(channel: str) -> Callable[[api_grpc.ClientStub], str | None]:
        def check(stub: api_grpc.ClientStub) -> str | None:
            entry = registry_entry(stub, channel, args.terminal_id)
            return "removed already" if entry is not None and not entry.keys else None

        return check

    return lambda channels, suite: [
        Step(AUTHENTICATION, REVOKE_TERMINAL, revoke, revoked, "revoked"),
        *(Step(c, REMOVE_TERMINAL, remove, removed(c), "removed") for c in channels),
    ]


def run_steps(args: argparse.Namespace, stub: api_grpc.ClientStub, steps: list[Step], key) -> int:
    """Send each step not done yet and wait for its commit; print what became of each.
    Every step is tried (a revocation goes as far as it can); 1 if any was refused."""
    failed = 0
    for step in steps:
        where = f"{step.channel}: {step.tx_type}"
        try:
            already = step.done(stub)
            if already:
                print(f"{where}: {already}")
                continue
            result = send_message(
                stub, args.chain_id, step.channel, step.tx_type, step.payload, key
            )
            print(f"{where}: {step.verb} (result {result.code})", flush=True)
        except TxRejected as e:
            print(f"govchain terminal {args.action}: {where}: refused: {e}", file=sys.stderr)
            failed = 1
        except grpc.RpcError as e:
            problem = f"{e.code().name}: {e.details()}"
            print(f"govchain terminal {args.action}: {where}: {problem}", file=sys.stderr)
            failed = 1
    return failed


def cmd_terminal(args: argparse.Namespace) -> int:
    """Register or revoke a terminal on every channel the node serves."""
    try:
        steps_for = (_register_steps if args.action == "register" else _revoke_steps)(args)
    except BadInput as e:
        print(f"govchain terminal {args.action}: {e}", file=sys.stderr)
        return 2
    stub = connect(args.node, _tls(args))
    try:
        status = stub.GetStatus(api.GetStatusRequest(), timeout=10)
    except grpc.RpcError as e:
        print(f"govchain terminal {args.action}: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    try:  # the keys in the chain's suite (its validators' keys name it)
        suite = node_suite(status, args.crypto_suite)
        key = load_signing_key(args.department_key, suite=suite)
        steps = steps_for([c.channel for c in status.channels], suite)
    except (BadInput, KeyCustodyError, ProposalError) as e:  # KeyCustodyError: a ValueError
        print(f"govchain terminal {args.action}: {e}", file=sys.stderr)
        return 2
    failed = run_steps(args, stub, steps, key)
    if not failed:
        done = "registered" if args.action == "register" else "revoked"
        print(f"terminal {args.terminal_id} {done} on every channel")
    return failed


def cmd_prove(args: argparse.Namespace) -> int:
    """Print the terminal's public key and its proof of possession (run on the kiosk)."""
    try:
        key = load_signing_key(args.terminal_key, suite=args.crypto_suite or DEFAULT_SUITE)
    except KeyCustodyError as e:
        print(f"govchain terminal prove: {e}", file=sys.stderr)
        return 2
    proof = terminal_proof(key, args.chain_id, args.department, args.terminal_id)
    print(f"public_key {public_key_of(key).hex()}")
    print(f"proof {proof.hex()}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--node", default="127.0.0.1:7050", help="a node of the network")
    p.add_argument("--tls", type=Path, help="dir with ca.crt, client.crt, client.key")
    p.add_argument("--chain-id", default=DEFAULT_CHAIN_ID)
    p.add_argument(
        "--department-key", required=True, help="the operating department's tx key (a key spec)"
    )
    p.add_argument("--terminal-id", required=True, help="the terminal's id on chain")
    _suite_option(p, "default: the node's")
    p.set_defaults(func=cmd_terminal)


def _suite_option(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument(
        "--crypto-suite", choices=SUITE_NAMES, help=f"the chain's crypto suite ({default})"
    )


def add_terminal_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "terminal", help="register or revoke a kiosk terminal's own key"
    ).add_subparsers(dest="action", required=True)
    r = t.add_parser("register", help="register a terminal of your department with its key")
    _common(r)
    r.add_argument("--department", required=True, help="your department's id (the key's)")
    r.add_argument("--public-key", help="the terminal's public key, hex (from `prove`)")
    r.add_argument("--proof", help="the terminal key's proof of possession, hex (from `prove`)")
    r.add_argument("--terminal-key", help="the terminal's key (a key spec): make the proof here")
    r.add_argument("--kind", default="kiosk", choices=sorted(TERMINAL_KINDS))
    r.add_argument("--location", default="", help="where it stands (free text)")
    v = t.add_parser("revoke", help="revoke a terminal (lost or stolen key); a reason is required")
    _common(v)
    v.add_argument("--reason", required=True, help="why (recorded on chain)")
    p = t.add_parser("prove", help="on the kiosk: print its public key and proof of possession")
    p.add_argument("--terminal-key", required=True, help="the terminal's key (a key spec)")
    p.add_argument("--terminal-id", required=True, help="the terminal's id on chain")
    p.add_argument("--department", required=True, help="the operating department's id")
    p.add_argument("--chain-id", default=DEFAULT_CHAIN_ID)
    _suite_option(p, f"default {DEFAULT_SUITE}; sm2-sm3 for an SM2 key")
    p.set_defaults(func=cmd_prove)
