"""A testnet directory as a library: where each node's config, address, keys and TLS
material are, and the key file format.

`govchain testnet init` lays out a directory a department operator can read:

    keys/<node>.key        validator key (a 32-byte seed, 0600)   never leaves the node
    keys/<node>.tx.key     the department's tx-signing key
    tls/ca.crt, ca.key     the consortium CA (keep ca.key offline in production)
    tls/<node>.crt/.key    the node's TLS certificate, bound to its validator key
    tls/client.crt/.key    a client certificate for the CLI, demos and benchmark
    genesis/<channel>.json one per channel, identical on every validator
    <node>/config.toml     the node's config
    nodes.txt              "<node> <host:port>" per node: where tools and peers dial it

The commands (`testnet`, `governance`, `status`), the process manager, the benchmark, the
scripts and the demo all read such a directory. They share these readers from here, a
module that is a library by name, rather than importing them from a command's module.
"""

from __future__ import annotations

import os
from pathlib import Path

import nacl.signing

from client.tls import TlsFiles
from crypto import DEFAULT_SUITE, suite_by_name
from node.config import load_config

DEPARTMENTS = (
    "public-security",
    "market-regulation",
    "civil-affairs",
    "agriculture",
    "human-resources",
    "health",
    "education",
)


def node_ids(count: int) -> list[str]:
    """The names `testnet init` gives `count` nodes: the departments first, then node-<i>."""
    return [DEPARTMENTS[i] if i < len(DEPARTMENTS) else f"node-{i}" for i in range(count)]


def write_key(path: Path, suite: str = DEFAULT_SUITE) -> bytes:
    """A new key as a hex 32-byte seed in a file only its owner can read; its public key
    in the crypto suite `suite` (for sm2-sm3 the SM2 key the seed derives, 65 bytes)."""
    key = nacl.signing.SigningKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(bytes(key).hex() + "\n")
    return public_key_of(bytes(key), suite)


def public_key_of(seed: bytes, suite: str = DEFAULT_SUITE) -> bytes:
    """The public key a key file's seed stands for in `suite`."""
    if suite == DEFAULT_SUITE:
        return bytes(nacl.signing.SigningKey(seed).verify_key)
    s = suite_by_name(suite)
    return s.public_key(s.private_key_from_seed(seed))


def node_dirs(root: Path) -> list[Path]:
    """Every node directory of the testnet (one holding a config.toml), by name."""
    return sorted(p.parent for p in root.glob("*/config.toml"))


def listed_node_names(root: Path) -> list[str]:
    """The node names in nodes.txt, in its order: the order `init` and `add-node` made them."""
    nodes = root / "nodes.txt"
    if not nodes.exists():
        return []
    return [line.split()[0] for line in nodes.read_text().split("\n") if line.strip()]


def node_dirs_in_order(root: Path) -> list[Path]:
    """node_dirs in nodes.txt order (the first validator first); unlisted ones last."""
    listed = listed_node_names(root)
    return sorted(
        node_dirs(root), key=lambda d: listed.index(d.name) if d.name in listed else len(listed)
    )


def node_address(config_dir: Path) -> str:
    """Where tools dial a node: its entry in the testnet's nodes.txt (the address peers
    use, on its own host for a --hosts testnet), else its listen address."""
    nodes = config_dir.parent / "nodes.txt"
    if nodes.exists():
        for line in nodes.read_text().splitlines():
            name, _, address = line.partition(" ")
            if name == config_dir.name and address.strip():
                return address.strip()
    return load_config(config_dir / "config.toml").listen.replace("0.0.0.0", "127.0.0.1")


def tls_of_testnet(root: Path) -> TlsFiles | None:
    """The tools' client certificate of a testnet directory; None for an insecure one."""
    from client.connection import client_tls

    tls = client_tls(root / "tls")
    return tls if tls.cert.exists() else None
