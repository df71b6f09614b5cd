"""`govchain console serve | sign-login`: run a department's web console, and sign its
login challenge with the department's key where that key lives.

`serve` takes its settings from the command line or from a console.toml holding the same
names (dir, department, listen, department_key, validator_key, subject_key, proposals,
idle_timeout_s); an option given on the command line wins over the file. Any unusable
setting is one line on stderr and exit status 2, before anything listens.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crypto import DEFAULT_SUITE, SUITE_NAMES
from web.console.config import (
    DEFAULT_LISTEN,
    ConsoleConfigError,
    from_settings,
    load_toml,
)

OPTIONS = {
    "dir": "dir",
    "department": "department",
    "listen": "listen",
    "department_key": "department_key",
    "validator_key": "validator_key",
    "subject_key": "subject_key",
    "proposals": "proposals",
    "idle_timeout": "idle_timeout_s",
}


def cmd_console_serve(args: argparse.Namespace) -> int:
    import logging

    from cli.console_proposals import FileProposals
    from web.console.app import console_from_config, make_console_app
    from web.serve import serve, split_listen

    where = str(args.config) if args.config else "govchain console serve"
    try:
        settings: dict[str, object] = load_toml(args.config) if args.config else {}
        for option, name in OPTIONS.items():
            value = getattr(args, option)
            if value is not None:
                settings[name] = str(value) if isinstance(value, Path) else value
        config = from_settings(settings, where)
        split_listen(config.listen)
        proposals = FileProposals(config.proposals_dir)
        console = console_from_config(config, proposals)
    except (ConsoleConfigError, ValueError) as e:
        print(f"govchain console: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=logging.INFO)
    print(
        f"console of {config.department} on http://{config.listen}/ "
        f"(cases {'read-write' if console.department_key else 'read-only'}, governance "
        f"{'approvals' if console.validator_key else 'read-only'})",
        file=sys.stderr,
        flush=True,
    )
    serve(make_console_app(console), config.listen)
    return 0


def cmd_console_sign_login(args: argparse.Namespace) -> int:
    from web.console.auth import sign_login
    from web.console.config import signing_key

    try:  # the department's key in the chain's suite (an SM2 key on sm2-sm3)
        key = signing_key(args.key, "--key", args.crypto_suite)
    except ConsoleConfigError as e:
        print(f"govchain console: {e}", file=sys.stderr)
        return 2
    challenge = args.challenge.strip()
    if not challenge or len(challenge) > 64 or not challenge.isalnum():
        print(
            "govchain console: --challenge: copy the challenge the login page shows",
            file=sys.stderr,
        )
        return 2
    assert key is not None
    print(sign_login(key, args.department, challenge))
    return 0


def add_console_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("console", help="a department's web console").add_subparsers(
        dest="action", required=True
    )
    s = c.add_parser("serve", help="serve the console of one department until SIGTERM")
    s.add_argument("--config", type=Path, help="console.toml with the settings below")
    s.add_argument("--dir", type=Path, help="the testnet directory (nodes.txt, tls/, genesis/)")
    s.add_argument("--department", help="the department's id in the channels' genesis")
    s.add_argument("--listen", help=f"HOST:PORT (default {DEFAULT_LISTEN})")
    s.add_argument(
        "--department-key", type=Path, help="tx key to approve or reject cases (stays on this host)"
    )
    s.add_argument("--validator-key", type=Path, help="validator key to approve proposals")
    s.add_argument("--subject-key", type=Path, help="consortium subject key (default DIR/keys/)")
    s.add_argument("--proposals", type=Path, help="proposal files (default DIR/proposals)")
    s.add_argument("--idle-timeout", type=int, help="seconds before an idle session ends")
    s.set_defaults(func=cmd_console_serve)
    g = c.add_parser("sign-login", help="sign the console's login challenge with a department key")
    g.add_argument("--key", type=Path, required=True, help="the department's tx key file")
    g.add_argument("--department", required=True, help="the department logging in")
    g.add_argument("--challenge", required=True, help="the challenge the login page shows")
    g.add_argument(
        "--crypto-suite",
        choices=SUITE_NAMES,
        default=DEFAULT_SUITE,
        help=f"the chain's crypto suite (default {DEFAULT_SUITE}; sm2-sm3 for an SM2 key)",
    )
    g.set_defaults(func=cmd_console_sign_login)
