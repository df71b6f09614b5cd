"""The `govchain` command: keys, testnets, running a node, sending txs, querying."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import grpc
import structlog

from cli.archive import add_archive_parser
from cli.backup import add_backup_parsers
from cli.ca import add_ca_parser
from cli.console_commands import add_console_parser
from cli.department import add_department_parser
from cli.evidence import add_verify_evidence_parser
from cli.gateway_cli import add_gateway_parser
from cli.governance import add_governance_parser
from cli.keygen import add_keygen_parser
from cli.kiosk_config import add_kiosk_parser
from cli.source_watch import add_source_parser
from cli.terminal import add_terminal_parser
from cli.testnet import (
    DEFAULT_CHAIN_ID,
    cmd_testnet_add_node,
    cmd_testnet_down,
    cmd_testnet_init,
    cmd_testnet_up,
)
from cli.testnet_files import node_address, node_dirs, tls_of_testnet
from cli.testnet_governance import add_testnet_governance_parsers
from client.tls import TlsFiles
from crypto import DEFAULT_SUITE, SUITE_NAMES
from node.config import CHANNELS, ConfigError, load_config


def _configure_logging(json_logs: bool) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=logging.INFO)
    # A failure's traceback goes into its log line: as text in the JSON object, or
    # plainly under the console line (never with local variables, which could hold keys).
    renderers: list = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if json_logs
        else [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            *renderers,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        # log lines to stderr: a command's stdout is its answer (a node's log file gets both)
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),  # the current stderr
    )
    from client.keys import warnings_into_log

    warnings_into_log()


def cmd_node_start(args: argparse.Namespace) -> int:
    from node.malloc_arenas import limit_malloc_arenas

    limit_malloc_arenas()  # before the node's threads exist
    from node.node import Node
    from storage.stores import StorageError

    try:
        config = load_config(args.config)
        _configure_logging(args.json or config.log_json)
        node = Node(config)
    except (ConfigError, StorageError) as e:
        print(f"govchain: cannot start: {e}", file=sys.stderr)
        return 2

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await node.start()
        except ConfigError:
            await node.stop()
            raise
        # A signal, or a failure that stops the node (it cannot persist: node.halt).
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(node.fatal.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        await node.stop()

    try:
        asyncio.run(main())
    except ConfigError as e:
        print(f"govchain: cannot start: {e}", file=sys.stderr)
        return 2
    if node.exit_code:
        print(
            f"govchain: stopped: {node.halted} (exit status {node.exit_code}: restart the node "
            "once the cause is fixed; it checks its ledger and catches up from its peers)",
            file=sys.stderr,
        )
    return node.exit_code


def _client_tls(args: argparse.Namespace) -> TlsFiles | None:
    """--tls DIR (ca.crt, client.crt, client.key); else a --dir testnet's tls/; else
    $GOVCHAIN_TLS_DIR; else plaintext, which only an `insecure = true` node accepts."""
    from client.connection import client_tls

    if getattr(args, "tls", None):
        return client_tls(args.tls)
    if getattr(args, "dir", None):
        return tls_of_testnet(args.dir)
    env = os.environ.get("GOVCHAIN_TLS_DIR")
    return client_tls(env) if env else None


def _rpc_failed(e: grpc.RpcError, tls: TlsFiles | None) -> None:
    hint = ""
    if e.code() == grpc.StatusCode.UNAVAILABLE and tls is None:
        hint = " (if the node uses TLS, pass --tls DIR with ca.crt, client.crt, client.key)"
    print(f"{e.code().name}: {e.details()}{hint}", file=sys.stderr)


def cmd_status(args: argparse.Namespace) -> int:
    from cli.status_view import render_status
    from client.connection import connect
    from protos import api_pb2 as api

    addresses = (
        [(d.name, node_address(d)) for d in node_dirs(args.dir)] if args.dir else [("", args.node)]
    )
    tls = _client_tls(args)
    replies: list[tuple[str, api.GetStatusResponse | str]] = []
    for name, address in addresses:
        try:
            replies.append(
                (name, connect(address, tls).GetStatus(api.GetStatusRequest(), timeout=3.0))
            )
        except grpc.RpcError as e:
            replies.append((name or address, e.code().name))
    print(render_status(replies))
    healthy = all(
        isinstance(r, api.GetStatusResponse)
        and not r.failures
        and not any(ch.failure for ch in r.channels)
        for _, r in replies
    )
    return 0 if healthy else 1


def cmd_tx_send(args: argparse.Namespace) -> int:
    from client.connection import connect, load_signing_key
    from client.txs import kv_put_tx, status_name, submit

    key = load_signing_key(args.key_file, suite=args.crypto_suite)
    txs = [
        kv_put_tx(
            key,
            args.chain_id,
            args.channel,
            f"{args.key}{i if args.count > 1 else ''}".encode(),
            args.value.encode(),
        )
        for i in range(args.count)
    ]
    tls = _client_tls(args)
    try:
        results = submit(connect(args.node, tls), txs)
    except grpc.RpcError as e:
        _rpc_failed(e, tls)
        return 1
    counts: dict[str, int] = {}
    for r in results:
        counts[status_name(r.status)] = counts.get(status_name(r.status), 0) + 1
        if args.count == 1:
            print(f"{r.tx_id.hex()} {status_name(r.status)} {r.detail}")
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return 0 if counts.get("ACCEPTED", 0) == len(results) else 1


def cmd_query(args: argparse.Namespace) -> int:
    from client.connection import connect
    from protos import api_pb2 as api

    tls = _client_tls(args)
    stub = connect(args.node, tls)
    try:
        if args.what == "block":
            r = stub.GetBlock(
                api.GetBlockRequest(channel=args.channel, height=int(args.arg or 0)), timeout=5
            )
            print(
                f"height {r.height} hash {r.hash.hex()} txs {len(r.block.block.txs)} "
                f"commits {len(r.block.commits)} state_root {r.results.state_root.hex()}"
            )
        elif args.what == "tx":
            r = stub.GetTransaction(
                api.GetTransactionRequest(channel=args.channel, tx_id=bytes.fromhex(args.arg)),
                timeout=5,
            )
            print(f"height {r.height} index {r.index} code {r.result.code} {r.result.reason}")
        else:
            r = stub.GetState(
                api.GetStateRequest(channel=args.channel, key=args.arg.encode()), timeout=5
            )
            print(
                r.value.decode(errors="replace") if r.found else "(not found)",
                f"@ height {r.height}",
            )
    except grpc.RpcError as e:
        _rpc_failed(e, tls)
        return 1
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from client.connection import connect
    from protos import api_pb2 as api

    tls = _client_tls(args)
    stream = connect(args.node, tls).StreamBlocks(
        api.StreamBlocksRequest(channel=args.channel, from_height=args.from_height)
    )
    try:
        for ev in stream:
            ok = sum(1 for r in ev.results.results if r.code == 0)
            txs = len(ev.block.block.txs)
            print(
                f"{args.channel} height {ev.height} {ev.hash.hex()[:16]} txs {txs} ok {ok}",
                flush=True,
            )
    except KeyboardInterrupt:
        return 0
    except grpc.RpcError as e:
        _rpc_failed(e, tls)
        return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The demo in its own process: demo/ reads testnets through this package, so importing
    it here would make the two packages import each other."""
    import subprocess

    return subprocess.call([sys.executable, "-m", "demo", "--dir", str(args.dir)])


def cmd_bench(args: argparse.Namespace) -> int:
    """The benchmark in its own process: bench/ uses this package's testnet manager, so
    importing it here would make the two packages import each other."""
    import subprocess

    options = args.args[1:] if args.args[:1] == ["--"] else args.args
    return subprocess.call([sys.executable, "-m", "bench.run", *options])


def build_parser() -> argparse.ArgumentParser:
    """The `govchain` command tree, one group of subcommands at a time (in the order
    `govchain --help` lists them)."""
    p = argparse.ArgumentParser(prog="govchain", description="govchain validator node and tools")
    sub = p.add_subparsers(dest="command", required=True)
    add_keygen_parser(sub)
    add_ca_parser(sub)
    add_testnet_parser(sub)
    add_governance_parser(sub)
    add_department_parser(sub)
    add_node_parser(sub)
    add_client_parsers(sub)
    add_tool_parsers(sub)
    add_watch_parser(sub)
    add_source_parser(sub)
    add_verify_evidence_parser(sub)
    add_backup_parsers(sub)
    add_archive_parser(sub)
    add_kiosk_parser(sub)
    add_gateway_parser(sub)
    add_console_parser(sub)
    add_terminal_parser(sub)
    return p


def add_testnet_parser(sub: argparse._SubParsersAction) -> None:
    """`govchain testnet …`: create, run, grow and govern a testnet."""
    t = sub.add_parser("testnet", help="local or multi-host testnets").add_subparsers(
        dest="action", required=True
    )
    _add_testnet_init_parser(t)
    for name, func, helptext in (
        ("up", cmd_testnet_up, "start every node of DIR as a local process"),
        ("down", cmd_testnet_down, "stop the nodes started by `up`"),
        ("status", cmd_status, "height, view and peers of every node of DIR"),
    ):
        c = t.add_parser(name, help=helptext)
        c.add_argument("--dir", type=Path, required=True)
        c.add_argument("--timeout", type=float, default=30.0)
        c.add_argument("--node", default="127.0.0.1:7050")
        c.set_defaults(func=func)
    an = t.add_parser("add-node", help="keys, certificate and config for one more node")
    an.add_argument("dir", nargs="?", type=Path, help="the testnet directory")
    an.add_argument("--dir", dest="dir_opt", type=Path, help="the same, as an option")
    an.add_argument("--name", help="node name (default: the next department's)")
    an.add_argument("--host", default="127.0.0.1", help="where the node listens (a host)")
    an.set_defaults(func=cmd_testnet_add_node)
    add_testnet_governance_parsers(t)


def _add_testnet_init_parser(t: argparse._SubParsersAction) -> None:
    ti = t.add_parser("init", help="keys, genesis per channel, one config per node")
    ti.add_argument("--validators", type=int, default=4)
    ti.add_argument("--channels", nargs="+", default=list(CHANNELS), choices=CHANNELS)
    ti.add_argument("--base-port", type=int, default=7050)
    ti.add_argument("--out", type=Path, required=True)
    ti.add_argument(
        "--metrics-base-port",
        type=int,
        help="Prometheus /metrics port of the first node, next nodes +1 (default: base port"
        " + 2100, so 9150 for 7050); 0: no endpoint",
    )
    ti.add_argument("--chain-id", default=DEFAULT_CHAIN_ID)
    ti.add_argument("--block-txs-max", type=int, default=1000)
    ti.add_argument("--crypto-suite", choices=SUITE_NAMES, default=DEFAULT_SUITE)
    ti.add_argument("--hosts", type=Path, help="file with one host address per validator")
    ti.add_argument(
        "--app",
        choices=("government", "kv"),
        default="kv",
        help="government: each channel runs its government application; kv: key-value everywhere",
    )
    ti.add_argument(
        "--insecure",
        action="store_true",
        help="no certificates: plaintext gRPC (local development only; nodes log it loudly)",
    )
    ti.add_argument("--force", action="store_true")
    ti.set_defaults(func=cmd_testnet_init)


def add_node_parser(sub: argparse._SubParsersAction) -> None:
    n = sub.add_parser("node", help="run a validator").add_subparsers(dest="action", required=True)
    ns = n.add_parser("start", help="run a node until SIGTERM/SIGINT")
    ns.add_argument("--config", type=Path, required=True)
    ns.add_argument("--json", action="store_true", help="JSON log lines")
    ns.set_defaults(func=cmd_node_start)


def _add_connection(parser: argparse.ArgumentParser, channel: bool = True) -> None:
    """The options of every call to one node: its address, its TLS files, the channel."""
    parser.add_argument("--node", default="127.0.0.1:7050")
    parser.add_argument("--tls", type=Path, help="dir with ca.crt, client.crt, client.key")
    if channel:
        parser.add_argument("--channel", default="license", choices=CHANNELS)


def add_client_parsers(sub: argparse._SubParsersAction) -> None:
    """`tx send`, `query` and `status`: a client's calls to one node."""
    tx = sub.add_parser("tx", help="transactions").add_subparsers(dest="action", required=True)
    ts = tx.add_parser("send", help="send kv.put txs")
    _add_connection(ts)
    ts.add_argument("--key-file", type=Path, required=True, help="client key (see keygen)")
    ts.add_argument("--chain-id", default=DEFAULT_CHAIN_ID)
    ts.add_argument("--key", required=True)
    ts.add_argument("--value", required=True)
    ts.add_argument("--count", type=int, default=1)
    ts.add_argument("--crypto-suite", choices=SUITE_NAMES, default=DEFAULT_SUITE)
    ts.set_defaults(func=cmd_tx_send)

    q = sub.add_parser("query", help="read a block, tx or state key")
    q.add_argument("what", choices=("block", "tx", "state"))
    q.add_argument("arg", nargs="?", help="height (block), tx id hex (tx) or key (state)")
    _add_connection(q)
    q.set_defaults(func=cmd_query)

    s = sub.add_parser("status", help="one node's status")
    _add_connection(s, channel=False)
    s.add_argument("--dir", type=Path)
    s.set_defaults(func=cmd_status)


def add_tool_parsers(sub: argparse._SubParsersAction) -> None:
    """`demo` and `bench`: each runs another package in its own process."""
    d = sub.add_parser(
        "demo", help="pesticide-permit kiosk demo on a running `--app government` testnet"
    )
    d.add_argument("--dir", type=Path, required=True)
    d.set_defaults(func=cmd_demo)

    b = sub.add_parser("bench", help="block-throughput benchmark (see `govchain bench -- --help`)")
    b.add_argument("args", nargs=argparse.REMAINDER, help="options of scripts/bench.py")
    b.set_defaults(func=cmd_bench)


def add_watch_parser(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("watch", help="stream blocks as they commit")
    _add_connection(w)
    w.add_argument("--from-height", type=int, default=0)
    w.set_defaults(func=cmd_watch)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
