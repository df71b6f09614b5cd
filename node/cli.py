"""The `govchain` command: keys, testnets, running a node, sending txs, querying."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import nacl.signing
import structlog

from node.config import CHANNELS, ConfigError, load_config, make_genesis

DEPARTMENTS = (
    "public-security",
    "market-regulation",
    "civil-affairs",
    "agriculture",
    "human-resources",
    "health",
    "education",
)
DEFAULT_CHAIN_ID = "govchain-testnet"


def _write_key(path: Path) -> bytes:
    key = nacl.signing.SigningKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(bytes(key).hex() + "\n")
    return bytes(key.verify_key)


def cmd_keygen(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.force:
        print(f"{args.out} exists; use --force to overwrite", file=sys.stderr)
        return 2
    public = _write_key(args.out)
    print(public.hex())
    return 0


def node_ids(count: int) -> list[str]:
    return [DEPARTMENTS[i] if i < len(DEPARTMENTS) else f"node-{i}" for i in range(count)]


def cmd_testnet_init(args: argparse.Namespace) -> int:
    out: Path = args.out
    if (out / "genesis").exists() and not args.force:
        print(f"{out} already holds a testnet; use --force to overwrite", file=sys.stderr)
        return 2
    hosts = args.hosts.read_text().split() if args.hosts else []
    if hosts and len(hosts) < args.validators:
        print(f"{args.hosts}: {len(hosts)} hosts for {args.validators} validators", file=sys.stderr)
        return 2
    ids = node_ids(args.validators)
    keys = {}
    for i, nid in enumerate(ids):
        keys[nid] = _write_key(out / "keys" / f"{nid}.key")
        print(f"[{i + 1}/{len(ids)}] key for {nid}", flush=True)
    _write_key(out / "keys" / "client.key")
    validators = [(nid, keys[nid]) for nid in ids]
    consensus = {"block_txs_max": args.block_txs_max}
    departments = _department_keys(out, ids)
    for ch in args.channels:
        app = {"name": "kv" if args.app == "kv" else ch, "departments": departments}
        (out / "genesis").mkdir(parents=True, exist_ok=True)
        genesis = make_genesis(args.chain_id, ch, validators, consensus, app)
        (out / "genesis" / f"{ch}.json").write_bytes(genesis)
    addresses = {
        nid: f"{hosts[i] if hosts else '127.0.0.1'}:{args.base_port + (0 if hosts else i)}"
        for i, nid in enumerate(ids)
    }
    for nid in ids:
        peers = "".join(
            f'\n[[peers]]\nnode_id = "{p}"\naddress = "{addresses[p]}"\n'
            f'public_key = "{keys[p].hex()}"\n'
            for p in ids
            if p != nid
        )
        listen = f"0.0.0.0:{addresses[nid].rsplit(':', 1)[1]}" if hosts else addresses[nid]
        text = (
            f'node_id = "{nid}"\nchain_id = "{args.chain_id}"\nkey_file = "../keys/{nid}.key"\n'
            f'department_key_file = "../keys/{nid}.tx.key"\n'
            f'listen = "{listen}"\ndata_dir = "data"\ngenesis_dir = "../genesis"\n'
            f"channels = [{', '.join(repr(c).replace(chr(39), chr(34)) for c in args.channels)}]\n"
            f"{peers}"
        )
        (out / nid).mkdir(parents=True, exist_ok=True)
        (out / nid / "config.toml").write_text(text)
    (out / "nodes.txt").write_text("".join(f"{nid} {addresses[nid]}\n" for nid in ids))
    print(f"testnet with {len(ids)} validators and channels {', '.join(args.channels)} in {out}")
    return 0


def _department_keys(out: Path, ids: list[str]) -> list[dict[str, object]]:
    """Each department's tx-signing key (apart from its node key), and one kiosk terminal
    that signs on citizens' behalf; the public halves go into every channel's genesis."""
    entries: list[dict[str, object]] = []
    for nid in ids:
        public = _write_key(out / "keys" / f"{nid}.tx.key")
        entries.append({"id": nid, "name": nid, "keys": [public.hex()], "roles": ["department"]})
    kiosk = _write_key(out / "keys" / "kiosk.key")
    # The consortium's subject key: terminals and issuing departments compute subject
    # references with it; it never goes on chain.
    _write_key(out / "keys" / "subject.key")
    entries.append(
        {
            "id": "haidian-kiosk-01",
            "name": "Haidian service centre kiosk 01",
            "keys": [kiosk.hex()],
            "roles": ["terminal"],
        }
    )
    return entries


def _configure_logging(json_logs: bool) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=logging.INFO)
    renderer = (
        structlog.processors.JSONRenderer()
        if json_logs
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )


def cmd_node_start(args: argparse.Namespace) -> int:
    from node.memory import limit_malloc_arenas

    limit_malloc_arenas()  # before the node's threads exist
    from node.node import Node
    from storage.kv import StorageError

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
        await stop.wait()
        await node.stop()

    try:
        asyncio.run(main())
    except ConfigError as e:
        print(f"govchain: cannot start: {e}", file=sys.stderr)
        return 2
    return 0


def _node_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/config.toml"))


def _address(config_dir: Path) -> str:
    return load_config(config_dir / "config.toml").listen.replace("0.0.0.0", "127.0.0.1")


def _wait_ready(address: str, deadline: float) -> bool:
    from node.client import connect
    from protos import api_pb2 as api

    stub = connect(address)
    while time.monotonic() < deadline:
        try:
            stub.GetStatus(api.GetStatusRequest(), timeout=1.0)
            return True
        except grpc.RpcError:
            time.sleep(0.1)
    return False


def cmd_testnet_up(args: argparse.Namespace) -> int:
    dirs = _node_dirs(args.dir)
    if not dirs:
        print(f"{args.dir}: no node configs (run `govchain testnet init` first)", file=sys.stderr)
        return 2
    for d in dirs:
        pid_file = d / "node.pid"
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            print(f"{d.name}: already running (pid {pid_file.read_text().strip()})")
            continue
        log = open(d / "node.log", "ab")  # noqa: SIM115 - handed to the child process
        proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "node", "start", "--config", str(d / "config.toml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        pid_file.write_text(f"{proc.pid}\n")
        print(f"{d.name}: started (pid {proc.pid}), log {d / 'node.log'}")
    deadline = time.monotonic() + args.timeout
    for d in dirs:
        if not _wait_ready(_address(d), deadline):
            print(f"{d.name}: not answering; see {d / 'node.log'}", file=sys.stderr)
            return 1
    print(f"{len(dirs)} nodes up")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def cmd_testnet_down(args: argparse.Namespace) -> int:
    for d in _node_dirs(args.dir):
        pid_file = d / "node.pid"
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
            print(f"{d.name}: stopped")
        pid_file.unlink()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from node.client import connect
    from protos import api_pb2 as api

    addresses = (
        [(d.name, _address(d)) for d in _node_dirs(args.dir)] if args.dir else [("", args.node)]
    )
    print(
        f"{'node':18} {'channel':15} {'height':>7} {'view':>5} {'stable':>7} "
        f"{'peers':>5} {'mempool':>8}"
    )
    for name, address in addresses:
        try:
            st = connect(address).GetStatus(api.GetStatusRequest(), timeout=3.0)
        except grpc.RpcError as e:
            print(f"{name or address:18} unreachable ({e.code().name})")
            continue
        for ch in st.channels:
            print(
                f"{st.node_id:18} {ch.channel:15} {ch.height:7} {ch.view:5} {ch.stable_height:7} "
                f"{ch.peers_connected:5} {ch.mempool_txs:8}"
            )
    return 0


def cmd_tx_send(args: argparse.Namespace) -> int:
    from node.client import connect, kv_put_tx, load_signing_key, status_name, submit

    key = load_signing_key(args.key_file)
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
    results = submit(connect(args.node), txs)
    counts: dict[str, int] = {}
    for r in results:
        counts[status_name(r.status)] = counts.get(status_name(r.status), 0) + 1
        if args.count == 1:
            print(f"{r.tx_id.hex()} {status_name(r.status)} {r.detail}")
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return 0 if counts.get("ACCEPTED", 0) == len(results) else 1


def cmd_query(args: argparse.Namespace) -> int:
    from node.client import connect
    from protos import api_pb2 as api

    stub = connect(args.node)
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
        print(f"{e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from node.client import connect
    from protos import api_pb2 as api

    stream = connect(args.node).StreamBlocks(
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
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from node.gov_demo import Demo

    try:
        Demo(args.dir).run()
    except (RuntimeError, grpc.RpcError) as e:
        print(f"demo failed: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from bench.run import main as bench_main

    return bench_main(args.args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="govchain", description="govchain validator node and tools")
    sub = p.add_subparsers(dest="command", required=True)

    k = sub.add_parser("keygen", help="create an Ed25519 key file (hex seed, mode 0600)")
    k.add_argument("--out", type=Path, required=True)
    k.add_argument("--force", action="store_true")
    k.set_defaults(func=cmd_keygen)

    t = sub.add_parser("testnet", help="local or multi-host testnets").add_subparsers(
        dest="action", required=True
    )
    ti = t.add_parser("init", help="keys, genesis per channel, one config per node")
    ti.add_argument("--validators", type=int, default=4)
    ti.add_argument("--channels", nargs="+", default=list(CHANNELS), choices=CHANNELS)
    ti.add_argument("--base-port", type=int, default=7050)
    ti.add_argument("--out", type=Path, required=True)
    ti.add_argument("--chain-id", default=DEFAULT_CHAIN_ID)
    ti.add_argument("--block-txs-max", type=int, default=1000)
    ti.add_argument("--hosts", type=Path, help="file with one host address per validator")
    ti.add_argument(
        "--app",
        choices=("gov", "kv"),
        default="kv",
        help="gov: each channel runs its government application; kv: key-value everywhere",
    )
    ti.add_argument("--force", action="store_true")
    ti.set_defaults(func=cmd_testnet_init)
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

    n = sub.add_parser("node", help="run a validator").add_subparsers(dest="action", required=True)
    ns = n.add_parser("start", help="run a node until SIGTERM/SIGINT")
    ns.add_argument("--config", type=Path, required=True)
    ns.add_argument("--json", action="store_true", help="JSON log lines")
    ns.set_defaults(func=cmd_node_start)

    tx = sub.add_parser("tx", help="transactions").add_subparsers(dest="action", required=True)
    ts = tx.add_parser("send", help="send kv.put txs")
    ts.add_argument("--node", default="127.0.0.1:7050")
    ts.add_argument("--channel", default="license", choices=CHANNELS)
    ts.add_argument("--key-file", type=Path, required=True, help="client key (see keygen)")
    ts.add_argument("--chain-id", default=DEFAULT_CHAIN_ID)
    ts.add_argument("--key", required=True)
    ts.add_argument("--value", required=True)
    ts.add_argument("--count", type=int, default=1)
    ts.set_defaults(func=cmd_tx_send)

    q = sub.add_parser("query", help="read a block, tx or state key")
    q.add_argument("what", choices=("block", "tx", "state"))
    q.add_argument("arg", nargs="?", help="height (block), tx id hex (tx) or key (state)")
    q.add_argument("--node", default="127.0.0.1:7050")
    q.add_argument("--channel", default="license", choices=CHANNELS)
    q.set_defaults(func=cmd_query)

    s = sub.add_parser("status", help="one node's status")
    s.add_argument("--node", default="127.0.0.1:7050")
    s.add_argument("--dir", type=Path)
    s.set_defaults(func=cmd_status)

    d = sub.add_parser("demo", help="pesticide-permit kiosk demo on a running `--app gov` testnet")
    d.add_argument("--dir", type=Path, required=True)
    d.set_defaults(func=cmd_demo)

    b = sub.add_parser("bench", help="block-throughput benchmark (see `govchain bench -- --help`)")
    b.add_argument("args", nargs=argparse.REMAINDER, help="options of scripts/bench.py")
    b.set_defaults(func=cmd_bench)

    w = sub.add_parser("watch", help="stream blocks as they commit")
    w.add_argument("--node", default="127.0.0.1:7050")
    w.add_argument("--channel", default="license", choices=CHANNELS)
    w.add_argument("--from-height", type=int, default=0)
    w.set_defaults(func=cmd_watch)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
