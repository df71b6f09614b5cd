"""`govchain archive export` and `govchain archive verify`: a channel's old blocks kept
outside the node, checkable by anyone with the genesis file (docs/operations.md
"Pruning and archiving"; the format is client/archive.py and docs/protocol.md).

Export reads blocks 1..H through a node's Client API (`GetBlock`, mutual TLS with a client
certificate): a running node holds its LevelDB. Ask a node that still has the range (one
that does not prune, or before it prunes): a pruned height fails the export with the
node's `pruned: …` answer. Verify needs no node: exit 0 only if every check passes, 1
with the first problem otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import grpc

from chains.tx import suite_hashing
from client.archive import ArchiveError, fetch_blocks, write_archive
from client.archive_verify import verify_archive
from client.connection import client_tls, connect
from crypto import DEFAULT_SUITE, suite_by_name
from protos import api_pb2 as api


def _header(genesis_raw: bytes) -> dict[str, str]:
    """What the manifest says of the chain, read from the channel's genesis file."""
    data = json.loads(genesis_raw)
    suite = suite_by_name(data.get("crypto_suite", DEFAULT_SUITE))
    return {
        "chain_id": data["chain_id"],
        "channel": data["channel"],
        "crypto_suite": suite.name,
        "genesis_hash": suite_hashing(suite).hash(genesis_raw).hex(),
    }


def cmd_archive_export(args: argparse.Namespace) -> int:
    genesis = args.genesis or Path("genesis") / f"{args.channel}.json"
    try:
        header = _header(genesis.read_bytes())
    except (OSError, ValueError, KeyError, ImportError) as e:
        print(f"govchain: {genesis}: not a usable genesis file: {e}", file=sys.stderr)
        return 1
    if header["channel"] != args.channel:
        print(f"govchain: {genesis} is the genesis of {header['channel']}", file=sys.stderr)
        return 1
    stub = connect(args.node, client_tls(args.tls) if args.tls else None)
    try:
        to = args.to or stub.GetBlock(api.GetBlockRequest(channel=args.channel)).height
        manifest = write_archive(args.out, header, fetch_blocks(stub, args.channel, to))
    except grpc.RpcError as e:
        print(f"govchain: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    except ArchiveError as e:
        print(f"govchain: {e}", file=sys.stderr)
        return 1
    print(
        f"archived blocks 1..{manifest['to_height']} of {header['chain_id']}/{args.channel} "
        f"in {len(manifest['chunks'])} chunk(s) into {args.out}"
    )
    return 0


def cmd_archive_verify(args: argparse.Namespace) -> int:
    try:
        genesis = args.genesis.read_bytes()
    except OSError as e:
        print(f"govchain: {args.genesis}: {e.strerror}", file=sys.stderr)
        return 1
    done, problem = verify_archive(args.dir, genesis)
    if problem is not None:
        print(f"NOT VERIFIED after {done} block(s): {problem}")
        return 1
    print(f"VERIFIED: blocks 1..{done}: files, hash chain and every commit certificate")
    return 0


def add_archive_parser(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("archive", help="export a channel's blocks, verify an archive offline")
    actions = a.add_subparsers(dest="action", required=True)
    e = actions.add_parser("export", help="write blocks 1..H of a channel from a node")
    e.add_argument("--node", default="127.0.0.1:7050")
    e.add_argument("--tls", type=Path, help="dir with ca.crt, client.crt, client.key")
    e.add_argument("--channel", required=True)
    e.add_argument("--to", type=int, default=0, help="the last height (default: the tip)")
    e.add_argument("--genesis", type=Path, help="the channel's genesis file")
    e.add_argument("out", type=Path, help="a new or empty directory")
    e.set_defaults(func=cmd_archive_export)
    v = actions.add_parser("verify", help="check an archive offline (no node needed)")
    v.add_argument("dir", type=Path, help="the archive directory")
    v.add_argument("--genesis", type=Path, required=True, help="the channel's genesis file")
    v.set_defaults(func=cmd_archive_verify)
