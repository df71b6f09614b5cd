"""`govchain terminal register|revoke`: a department registers each of its kiosks (or hall
desks, apps) on the authentication chain with the terminal's own key, and revokes one
whose key is lost or stolen.

Each command signs one tx with the department's tx key (`--department-key`, a key spec
as in `govchain keygen`: a hex or encrypted file, or a pkcs11: URI), submits it to
`--node` and waits for its commit. The terminal's key never comes near this command:
`register` takes only its public half (`govchain keygen --out kiosk-02.key` prints it).
A revocation counts from the tx on: the revoked terminal records no more identity
checks, and every provider refuses pulls under grants it brokered (docs/applications.md
"Terminal revocation").

Exit codes: 0 committed, 1 refused by the chain or the node unreachable, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import grpc
from google.protobuf.message import Message

from chains.authentication import REGISTER_TERMINAL, REVOKE_TERMINAL, TERMINAL_KINDS
from cli.testnet import DEFAULT_CHAIN_ID
from client.connection import client_tls, connect, load_signing_key
from client.keys import KeyCustodyError
from client.tls import TlsFiles
from client.txs import TxRejected, send_message
from protos import government_pb2 as government


def _tls(args: argparse.Namespace) -> TlsFiles | None:
    """--tls DIR, else $GOVCHAIN_TLS_DIR, else plaintext (an `insecure = true` node)."""
    directory = args.tls or os.environ.get("GOVCHAIN_TLS_DIR")
    return client_tls(directory) if directory else None


def _payload(args: argparse.Namespace) -> tuple[str, Message]:
    if args.action == "revoke":
        return REVOKE_TERMINAL, government.RevokeTerminal(
            terminal_id=args.terminal_id, reason=args.reason
        )
    try:
        public = bytes.fromhex(args.public_key)
    except ValueError:
        raise ValueError("--public-key is not hex (give what `govchain keygen` printed)") from None
    terminal = government.Terminal(
        terminal_id=args.terminal_id,
        kind=args.kind,
        department=args.department,
        public_key=public,
        location=args.location,
    )
    return REGISTER_TERMINAL, terminal


def cmd_terminal(args: argparse.Namespace) -> int:
    """Sign, submit and wait for one register_terminal or revoke_terminal tx."""
    try:
        tx_type, payload = _payload(args)
        key = load_signing_key(args.department_key)
    except (ValueError, KeyCustodyError) as e:  # KeyCustodyError is a ValueError too
        print(f"govchain terminal {args.action}: {e}", file=sys.stderr)
        return 2
    stub = connect(args.node, _tls(args))
    try:
        result = send_message(stub, args.chain_id, "authentication", tx_type, payload, key)
    except TxRejected as e:
        print(f"govchain terminal {args.action}: refused: {e}", file=sys.stderr)
        return 1
    except grpc.RpcError as e:
        print(f"govchain terminal {args.action}: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    done = "registered" if args.action == "register" else "revoked"
    print(f"terminal {args.terminal_id} {done} (result {result.code})")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--node", default="127.0.0.1:7050", help="a node of the network")
    p.add_argument("--tls", type=Path, help="dir with ca.crt, client.crt, client.key")
    p.add_argument("--chain-id", default=DEFAULT_CHAIN_ID)
    p.add_argument(
        "--department-key", required=True, help="the operating department's tx key (a key spec)"
    )
    p.add_argument("--terminal-id", required=True, help="the terminal's id on chain")
    p.set_defaults(func=cmd_terminal)


def add_terminal_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "terminal", help="register or revoke a kiosk terminal's own key"
    ).add_subparsers(dest="action", required=True)
    r = t.add_parser("register", help="register a terminal of your department with its key")
    _common(r)
    r.add_argument("--department", required=True, help="your department's id (the key's)")
    r.add_argument("--public-key", required=True, help="the terminal's public key, hex")
    r.add_argument("--kind", default="kiosk", choices=sorted(TERMINAL_KINDS))
    r.add_argument("--location", default="", help="where it stands (free text)")
    v = t.add_parser("revoke", help="revoke a terminal (lost or stolen key); a reason is required")
    _common(v)
    v.add_argument("--reason", required=True, help="why (recorded on chain)")
