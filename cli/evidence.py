"""`govchain verify-evidence FILE`: check an evidence bundle offline, without any node.

Prints each check (ok / FAIL, its name and why) and exits 0 only when every check passes,
1 otherwise (a file that is not a bundle included, with a message saying so).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from client.evidence import EvidenceError, read_evidence
from client.evidence_verify import verify_evidence


def cmd_verify_evidence(args: argparse.Namespace) -> int:
    try:
        bundle = read_evidence(args.file)
    except EvidenceError as e:
        print(f"govchain: {args.file}: {e}", file=sys.stderr)
        return 1
    checks = verify_evidence(bundle)
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{'ok  ' if c.ok else 'FAIL'} {c.name:{width}}  {c.detail}")
    claim = bundle["claim"]
    if all(c.ok for c in checks):
        print(
            f"VERIFIED: {claim['provider']} recorded a {claim['outcome']} access to "
            f"{claim['material']} for {claim['requester']}, case {claim['case_number']}, "
            f"in block {bundle['tx']['height']} of {bundle['chain_id']}/{bundle['channel']}"
        )
        return 0
    print(f"NOT VERIFIED: {sum(not c.ok for c in checks)} check(s) failed")
    return 1


def add_verify_evidence_parser(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("verify-evidence", help="check an evidence bundle offline (no node needed)")
    v.add_argument("file", type=Path, help="the bundle (JSON), as the kiosk's receipt gives it")
    v.set_defaults(func=cmd_verify_evidence)
