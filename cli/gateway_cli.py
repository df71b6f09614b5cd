"""`govchain gateway serve` and `govchain gateway token`: the JSON/HTTP gateway as its own
process, and a new API token for an application.

The CLI only parses arguments and reports configuration errors; web/gateway/ holds the
gateway itself.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def cmd_gateway_serve(args: argparse.Namespace) -> int:
    from web.gateway.access import Access
    from web.gateway.app import make_gateway_app
    from web.gateway.backend import Gateway
    from web.gateway.config import ConfigError, load
    from web.serve import serve, split_listen

    try:
        config = load(args.dir, args.config)
        listen = args.listen or config.listen
        split_listen(listen)
        if not config.departments:
            raise ConfigError("no department keys: the gateway could not pull for anyone")
    except (ConfigError, ValueError) as e:
        print(f"govchain: gateway: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    print(
        f"gateway: terminal {config.terminal_id}, departments "
        f"{', '.join(sorted(config.departments))}, {len(config.tokens)} API token(s)",
        flush=True,
    )
    for note in config.notes:
        print(f"gateway: {note}", flush=True)
    print(f"gateway: http://{listen}/docs (API reference), /openapi.json", flush=True)
    serve(make_gateway_app(Gateway(config), Access(config.tokens, config.rate)), listen)
    return 0


def cmd_gateway_token(args: argparse.Namespace) -> int:
    from web.gateway.config import hash_token, new_token

    token = new_token()
    scopes = ", ".join(f'"{s}"' for s in sorted(set(args.scope)))
    print(f"token (give it to the application; it is not stored anywhere): {token}")
    print("add to gateway.toml:")
    print(f'[[tokens]]\nname = "{args.name}"\nscopes = [{scopes}]')
    print(f'sha256 = "{hash_token(token).hex()}"')
    return 0


def add_gateway_parser(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("gateway", help="the JSON/HTTP gateway for application developers")
    gsub = g.add_subparsers(dest="gateway_command", required=True)
    s = gsub.add_parser("serve", help="serve the gateway (/v1, /openapi.json, /docs)")
    s.add_argument("--dir", type=Path, help="a testnet directory (network, keys, a token)")
    s.add_argument("--config", type=Path, help="gateway.toml (over --dir where both say)")
    s.add_argument("--listen", help="HOST:PORT (default 127.0.0.1:8082, or the config's)")
    s.set_defaults(func=cmd_gateway_serve)
    t = gsub.add_parser("token", help="make an API token; prints it and its [[tokens]] entry")
    t.add_argument("--name", required=True, help="the application's name (shown in logs)")
    t.add_argument(
        "--scope", action="append", choices=["read", "write"], required=True, help="repeatable"
    )
    t.set_defaults(func=cmd_gateway_token)
