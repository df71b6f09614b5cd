"""`govchain testnet init|add-node|up|down`: keys, certificates, genesis and configs of a
testnet directory (its layout: cli/testnet_files.py), and its nodes as local processes
(through the process manager, cli/processes.py).

`testnet add-node` adds a node directory to such a testnet without touching the genesis:
the node starts as an observer and becomes a validator by governance (`add-validator`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from chains.policy import government_write_policy
from cli.processes import NodeExited, NodeProcesses, NotReady, pid_alive, stop_pid
from cli.testnet_files import (
    node_address,
    node_dirs,
    node_dirs_in_order,
    node_ids,
    public_key_of,
    write_key,
)
from crypto import DEFAULT_SUITE
from node.config import Limits, NodeConfig, channels_suite, load_config, make_genesis

DEFAULT_CHAIN_ID = "govchain-testnet"


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
    suite = args.crypto_suite
    for i, nid in enumerate(ids):
        keys[nid] = write_key(out / "keys" / f"{nid}.key", suite)
        print(f"[{i + 1}/{len(ids)}] key for {nid}", flush=True)
    write_key(out / "keys" / "client.key")
    if not args.insecure:
        _issue_certificates(out, args.chain_id, keys, hosts)
    validators = [(nid, keys[nid]) for nid in ids]
    consensus = {"block_txs_max": args.block_txs_max}
    departments = _department_keys(out, ids, suite)
    for ch in args.channels:
        app: dict[str, object] = {"name": "kv" if args.app == "kv" else ch}
        app["departments"] = departments
        if args.app == "government":
            app["write_policy"] = government_write_policy(ch)
        (out / "genesis").mkdir(parents=True, exist_ok=True)
        genesis = make_genesis(args.chain_id, ch, validators, consensus, app, suite)
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
        metrics = ""
        metrics_base = (
            args.base_port + 2100 if args.metrics_base_port is None else args.metrics_base_port
        )
        if metrics_base:
            port = metrics_base + (0 if hosts else ids.index(nid))
            metrics = f'metrics_listen = "{listen.rsplit(":", 1)[0]}:{port}"\n'
        text = (
            f'node_id = "{nid}"\nchain_id = "{args.chain_id}"\nkey_file = "../keys/{nid}.key"\n'
            f'department_key_file = "../keys/{nid}.tx.key"\n'
            f'listen = "{listen}"\n{metrics}data_dir = "data"\ngenesis_dir = "../genesis"\n'
            f"channels = [{', '.join(repr(c).replace(chr(39), chr(34)) for c in args.channels)}]\n"
            f"{_tls_section(nid, args.insecure)}"
            f"{peers}"
        )
        (out / nid).mkdir(parents=True, exist_ok=True)
        (out / nid / "config.toml").write_text(text)
    (out / "nodes.txt").write_text("".join(f"{nid} {addresses[nid]}\n" for nid in ids))
    print(f"testnet with {len(ids)} validators and channels {', '.join(args.channels)} in {out}")
    return 0


def _issue_certificates(out: Path, chain_id: str, keys: dict[str, bytes], hosts: list[str]) -> None:
    """The consortium CA, a certificate per node bound to its validator key (valid for
    the addresses peers and clients dial), and the client certificates of the tools."""
    from node.crl import sign_crl
    from node.tls import Authority, write_pair

    tls = out / "tls"
    ca = Authority.create(chain_id)
    ca.write(tls / "ca.crt", tls / "ca.key")
    for i, (nid, key) in enumerate(keys.items()):
        names = ["127.0.0.1", "localhost"] + ([hosts[i]] if hosts else [])
        write_pair(tls / f"{nid}.crt", tls / f"{nid}.key", ca.issue_node(nid, key, names))
    for client in ("client", "kiosk"):
        write_pair(tls / f"{client}.crt", tls / f"{client}.key", ca.issue_client(client))
    # An empty revocation list every node enforces from the start: revoking a certificate
    # later is `govchain ca revoke`, with no config change and no restart.
    (tls / "ca.crl").write_bytes(sign_crl(ca, [], 1))
    print(f"consortium CA, its CRL and {len(keys)} node certificates in {tls}", flush=True)


def _tls_section(nid: str, insecure: bool) -> str:
    if insecure:
        return "# Plaintext gRPC without certificates: local development only.\ninsecure = true\n"
    return (
        f'\n[tls]\nca = "../tls/ca.crt"\ncert = "../tls/{nid}.crt"\nkey = "../tls/{nid}.key"\n'
        'crl = "../tls/ca.crl"\n'
    )


def _department_keys(out: Path, ids: list[str], suite: str) -> list[dict[str, object]]:
    """Each department's tx-signing key (apart from its node key), and one kiosk terminal
    that signs on citizens' behalf; the public halves (the channels' crypto suite's) go
    into every channel's genesis."""
    entries: list[dict[str, object]] = []
    for nid in ids:
        public = write_key(out / "keys" / f"{nid}.tx.key", suite)
        entries.append({"id": nid, "name": nid, "keys": [public.hex()], "roles": ["department"]})
    kiosk = write_key(out / "keys" / "kiosk.key", suite)
    # The consortium's subject key: terminals and issuing departments compute subject
    # references with it; it never goes on chain.
    write_key(out / "keys" / "subject.key")
    entries.append(
        {
            "id": "haidian-kiosk-01",
            "name": "Haidian service centre kiosk 01",
            "keys": [kiosk.hex()],
            "roles": ["terminal"],
        }
    )
    return entries


def _port_after(taken: list[str], host: str) -> int:
    """The next port after every "host:port" in `taken` on `host` (or on any host, when
    none is on it: a --hosts testnet uses the same port on every host)."""
    ports = [int(a.rsplit(":", 1)[1]) for a in taken if a.rsplit(":", 1)[0] == host]
    return max(ports) + 1 if ports else max(int(a.rsplit(":", 1)[1]) for a in taken)


def cmd_testnet_add_node(args: argparse.Namespace) -> int:
    """A new node's keys, certificate, config and nodes.txt line; the genesis is unchanged
    (the node follows the channels as an observer until governance adds it)."""
    root: Path = args.dir_opt or args.dir
    if root is None:
        print("testnet add-node: give the testnet directory (DIR or --dir DIR)", file=sys.stderr)
        return 2
    dirs = node_dirs_in_order(root)
    if not dirs or not (root / "nodes.txt").exists():
        print(f"{root}: not a testnet made by `govchain testnet init`", file=sys.stderr)
        return 2
    configs = [load_config(d / "config.toml") for d in dirs]
    names = [c.node_id for c in configs]
    name = args.name or next(n for n in node_ids(len(names) + 8) if n not in names)
    if name in names or (root / name).exists() or (root / "keys" / f"{name}.key").exists():
        print(f"{root}: a node named {name!r} already exists", file=sys.stderr)
        return 2
    first = configs[0]
    addresses = [node_address(d) for d in dirs]
    port = _port_after(addresses, args.host)
    address = f"{args.host}:{port}"
    local = args.host in ("127.0.0.1", "localhost")
    listen = address if local else f"0.0.0.0:{port}"
    suite = channels_suite(first)  # the chain's suite, as its genesis names it
    public = write_key(root / "keys" / f"{name}.key", suite)  # an SM2 key on sm2-sm3
    department = write_key(root / "keys" / f"{name}.tx.key", suite)
    insecure = first.tls is None
    if not insecure:
        problem = _issue_node_certificate(root, name, public, [] if local else [args.host])
        if problem is not None:
            print(f"cannot issue the node certificate: {problem}", file=sys.stderr)
            return 2
    text = _new_node_config(name, listen, configs, addresses, insecure, suite)
    (root / name).mkdir(parents=True)
    (root / name / "config.toml").write_text(text)
    with open(root / "nodes.txt", "a") as f:
        f.write(f"{name} {address}\n")
    print(f"node {name} at {address}: validator key {public.hex()}")
    print(f"department tx key {department.hex()} (not in the genesis: no write-policy role)")
    print(f"next: govchain testnet up --dir {root}  (it follows the channels as an observer)")
    print(f"then: govchain testnet add-validator --dir {root} --node {name}")
    return 0


def _issue_node_certificate(root: Path, name: str, public: bytes, hosts: list[str]) -> str | None:
    """The new node's certificate from the testnet's CA (for the loopback names and
    `hosts`), bound to its validator key; why not, if the CA cannot be loaded."""
    from client.tls import TlsError
    from node.tls import Authority, write_pair

    try:
        ca = Authority.load(root / "tls" / "ca.crt", root / "tls" / "ca.key")
    except TlsError as e:
        return str(e)
    write_pair(
        root / "tls" / f"{name}.crt",
        root / "tls" / f"{name}.key",
        ca.issue_node(name, public, ["127.0.0.1", "localhost", *hosts]),
    )
    return None


def _new_node_config(
    name: str,
    listen: str,
    configs: list[NodeConfig],
    addresses: list[str],
    insecure: bool,
    suite: str = DEFAULT_SUITE,
) -> str:
    """The new node's config.toml: like the first node's (chain, channels, log format,
    limits), listening on `listen`, metrics on the next free port if the others serve
    them, and every existing node as a peer (by its public key in the chain's `suite`)."""
    from node.config import load_key

    first = configs[0]
    metrics = ""
    taken = [c.metrics_listen for c in configs if c.metrics_listen]
    if taken:
        metrics_host = listen.rsplit(":", 1)[0]
        metrics = f'metrics_listen = "{metrics_host}:{_port_after(taken, metrics_host)}"\n'
    peers = "".join(
        f'\n[[peers]]\nnode_id = "{c.node_id}"\naddress = "{a}"\n'
        f'public_key = "{public_key_of(load_key(c.key_file), suite).hex()}"\n'
        for c, a in zip(configs, addresses, strict=True)
    )
    channels = ", ".join(f'"{c}"' for c in first.channels)
    log_json = "log_json = true\n" if first.log_json else ""
    return (
        f'{log_json}node_id = "{name}"\nchain_id = "{first.chain_id}"\n'
        f'key_file = "../keys/{name}.key"\n'
        f'department_key_file = "../keys/{name}.tx.key"\n'
        f'listen = "{listen}"\n{metrics}data_dir = "data"\ngenesis_dir = "../genesis"\n'
        f"channels = [{channels}]\n{_tls_section(name, insecure)}{peers}{_limits(first)}"
    )


def _limits(config: NodeConfig) -> str:
    """The [limits] a config sets away from the defaults, so a new node runs like the rest."""
    default = Limits()
    table = "".join(
        f"{f.name} = {getattr(config.limits, f.name)}\n"
        for f in dataclasses.fields(Limits)
        if getattr(config.limits, f.name) != getattr(default, f.name)
    )
    return f"\n[limits]\n{table}" if table else ""


def cmd_testnet_up(args: argparse.Namespace) -> int:
    """Start every node of the directory that is not already running, detached (each
    node's pid in <node>/node.pid for `down`), and wait until all of them answer."""
    nodes = NodeProcesses.of_testnet(args.dir, detach=True)
    if not len(nodes):
        print(f"{args.dir}: no node configs (run `govchain testnet init` first)", file=sys.stderr)
        return 2
    for i, spec in enumerate(nodes.specs):
        pid_file = spec.config.parent / "node.pid"
        if pid_file.exists() and pid_alive(int(pid_file.read_text())):
            print(f"{spec.name}: already running (pid {pid_file.read_text().strip()})")
            continue
        proc = nodes.start(i)
        pid_file.write_text(f"{proc.pid}\n")
        print(f"{spec.name}: started (pid {proc.pid}), log {spec.log}")
    try:
        nodes.wait_all_ready(args.timeout)
    except NodeExited as e:
        print(f"{e.spec.name}: exited with status {e.code}; see {e.spec.log}", file=sys.stderr)
        return 1
    except NotReady as e:
        print(f"{e.spec.name}: not answering; see {e.spec.log}", file=sys.stderr)
        return 1
    print(f"{len(nodes)} nodes up")
    return 0


def cmd_testnet_down(args: argparse.Namespace) -> int:
    """Stop the nodes `up` started (by their pid files): SIGTERM, SIGKILL after 10 s."""
    for d in node_dirs(args.dir):
        pid_file = d / "node.pid"
        if not pid_file.exists():
            continue
        if stop_pid(int(pid_file.read_text()), timeout_s=10):
            print(f"{d.name}: stopped")
        pid_file.unlink()
    return 0
