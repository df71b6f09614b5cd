"""Four validators on four "hosts" (network namespaces), every link through a faulty proxy.

The e2e tests in tests/e2e run every node on 127.0.0.1, where nothing is ever slow, lost
or unreachable. Here each validator runs in its own network namespace with its own IP,
configured the way an operator would (`govchain testnet init --hosts`: listen on
0.0.0.0, peers at IP:PORT, mutual TLS with certificates for the hosts' IPs). Every
ordered pair of hosts talks through its own TcpProxy in the test process, so the test can
add latency and break connections per link, and can unplug a host's cable.

The scenario checks what a deployment depends on: the validators find each other across
hosts through TLS and proxies; a host cut off from the network does not stop the other
three (3 of 4 is a quorum), and it catches up to the same state once back; consensus
keeps committing over slow links that drop connections.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from cli.main import main as cli
from cli.processes import NodeExited, NodeProcesses
from cli.testnet_files import node_dirs_in_order
from client.connection import load_signing_key, open_channel
from client.txs import kv_put_tx, submit
from node.config import Genesis, load_config, load_genesis
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from tests.e2e.harness import wait_for
from tests.multihost.netns import Hosts
from tests.multihost.tcp_proxy import TcpProxy

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: creates network namespaces, veth pairs and a bridge with `ip`",
)

ROOT = Path(__file__).resolve().parents[2]
VALIDATORS = 4
NODE_PORT = 7050  # the same on every host: each has a network namespace of its own
CHANNEL = "license"
CUT = 3  # the host unplugged in the partition phase
LOSSY = 2  # the host whose links (both ways) drop connections in the degraded phase
DELAY_MS = 30  # added to every link, each way, in the degraded phase

# Asks node CUT for its height from *inside* its namespace, where the cut does not reach.
INSIDE_HEIGHT = """
import sys
from pathlib import Path
from cli.testnet_files import tls_of_testnet
from client.connection import connect
from protos import api_pb2 as api
root, address, channel = sys.argv[1:]
stub = connect(address, tls_of_testnet(Path(root)))
status = stub.GetStatus(api.GetStatusRequest(), timeout=5)
print(next(c.height for c in status.channels if c.channel == channel))
"""


def no_proxy_env() -> dict[str, str]:
    """This environment without *_proxy variables: gRPC honours them, and the processes
    in the namespaces must dial the hosts themselves, not some web proxy."""
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


class Cluster:
    """The testnet directory, the hosts, the proxies and the node processes."""

    def __init__(self, root: Path, hosts: Hosts, proxies: dict[tuple[int, int], TcpProxy]):
        self.root = root
        self.hosts = hosts
        self.proxies = proxies
        self.dirs = node_dirs_in_order(root)  # host i runs the i-th node of nodes.txt
        self.chain_id = load_config(self.dirs[0] / "config.toml").chain_id
        self.nodes = NodeProcesses.of_testnet(
            root, self.dirs, cwd=ROOT, env=no_proxy_env(), wrap=hosts.argv_in
        )
        self.tls = self.nodes.tls
        self.key = load_signing_key(root / "keys" / "client.key")
        self._channels: dict[int, grpc.Channel] = {}
        self._nonce = 0

    # ------------------------------------------------------------ processes

    def start(self) -> None:
        self.nodes.start_all()

    def stop(self) -> None:
        self.nodes.stop_all(timeout_s=10)
        for channel in self._channels.values():
            channel.close()

    # ------------------------------------------------------------ client side

    def stub(self, i: int) -> api_grpc.ClientStub:
        """A client of node i, dialled from the root namespace straight to its IP."""
        if i not in self._channels:
            self._channels[i] = open_channel(f"{self.hosts.ips[i]}:{NODE_PORT}", self.tls)
        return api_grpc.ClientStub(self._channels[i])

    def redial(self, i: int) -> None:
        """Drop the client connection to node i: one that lived through a cut may sit in
        TCP retransmission backoff for seconds after the cable is back."""
        channel = self._channels.pop(i, None)
        if channel is not None:
            channel.close()

    def status(self, i: int, timeout_s: float = 3) -> api.ChannelStatus | None:
        """Node i's status of the channel; None if it does not answer."""
        try:
            response = self.stub(i).GetStatus(api.GetStatusRequest(), timeout=timeout_s)
        except grpc.RpcError:
            return None
        return next(c for c in response.channels if c.channel == CHANNEL)

    def height(self, i: int) -> int:
        status = self.status(i)
        assert status is not None, f"node {i} does not answer\n{self.diagnostics()}"
        return status.height

    def genesis(self) -> Genesis:
        path = self.root / "genesis" / f"{CHANNEL}.json"
        return load_genesis(path, self.chain_id, CHANNEL)

    def height_from_inside(self, i: int) -> int:
        """Node i's height asked from inside its own namespace, which a cut cannot reach."""
        address = f"127.0.0.1:{NODE_PORT}"
        argv = [sys.executable, "-c", INSIDE_HEIGHT, str(self.root), address, CHANNEL]
        proc = self.hosts.run_in(
            i, argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=no_proxy_env()
        )
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, f"status from inside host {i} failed: {err.decode()}"
        return int(out)

    def submit_batch(self, via: int, count: int) -> list[bytes]:
        txs = []
        for _ in range(count):
            self._nonce += 1
            n = self._nonce
            txs.append(kv_put_tx(self.key, self.chain_id, CHANNEL, b"k%d" % n, b"v", nonce=n))
        results = submit(self.stub(via), txs, timeout_s=10)
        refused = [api.TxStatus.Name(r.status) for r in results if r.status != api.ACCEPTED]
        assert not refused, f"node {via} refused txs: {refused}\n{self.diagnostics()}"
        return [r.tx_id for r in results]

    def committed(self, nodes: list[int], tx_ids: list[bytes]) -> Callable[[], bool]:
        """A check for wait_for: every tx in a committed block on every one of `nodes`.
        Pairs already seen committed are not asked again, so a poll stays cheap."""
        remaining = [(i, t) for i in nodes for t in tx_ids]

        def check() -> bool:
            while remaining:
                i, tx_id = remaining[-1]
                request = api.GetTransactionRequest(channel=CHANNEL, tx_id=tx_id)
                try:
                    self.stub(i).GetTransaction(request, timeout=2)
                except grpc.RpcError as e:
                    if e.code() in (
                        grpc.StatusCode.NOT_FOUND,
                        grpc.StatusCode.UNAVAILABLE,
                        grpc.StatusCode.DEADLINE_EXCEEDED,
                    ):
                        return False
                    raise
                remaining.pop()
            return True

        return check

    def same_state(self, nodes: list[int]) -> Callable[[], bool]:
        """A check: `nodes` report the same height and state root for the channel."""

        def check() -> bool:
            seen = {(s.height, s.state_root) if s else None for s in map(self.status, nodes)}
            return len(seen) == 1 and None not in seen

        return check

    def wait(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        """wait_for, failing early if a node died, and with the logs in the message."""

        def guarded() -> bool:
            self.nodes.check_running()
            return check()

        try:
            wait_for(guarded, timeout_s, what)
        except (AssertionError, NodeExited) as e:
            raise AssertionError(f"{e}\n{self.diagnostics()}") from None

    def diagnostics(self) -> str:
        """Status, proxy counters and the tail of every node's log, for failure messages."""
        lines = []
        for i in range(VALIDATORS):
            s = self.status(i, timeout_s=1)
            state = f"height {s.height} view {s.view} peers {s.peers_connected}" if s else "?"
            lines.append(f"node {i} ({self.dirs[i].name}, {self.hosts.ips[i]}): {state}")
        for (i, j), p in sorted(self.proxies.items()):
            lines.append(
                f"proxy {i}->{j}: {p.bytes_forwarded} B, {p.connections} conns, {p.resets} resets"
            )
        for i, spec in enumerate(self.nodes.specs):
            lines.append(f"--- {spec.log} (tail)\n{self.nodes.log_tail(i) or '(no log)'}")
        return "\n".join(lines)


def route_peers_through_proxies(
    config: Path, me: int, hosts: Hosts, proxies: dict[tuple[int, int], TcpProxy]
) -> None:
    """Point every peer address in node `me`'s config at the proxy for that link.

    The config is generated TOML with one `address = "IP:PORT"` line per peer; each
    line is replaced as a whole, and the result is read back to check every peer moved.
    """
    text = config.read_text()
    expected = set()
    for peer in tomllib.loads(text)["peers"]:
        ip, _port = peer["address"].rsplit(":", 1)
        proxy = proxies[me, hosts.ips.index(ip)]
        old = f'address = "{peer["address"]}"'
        new = f'address = "{proxy.host}:{proxy.port}"'
        assert text.count(old) == 1, f"{config}: expected one line {old}"
        text = text.replace(old, new)
        expected.add(f"{proxy.host}:{proxy.port}")
    config.write_text(text)
    assert {p.address for p in load_config(config).peers} == expected


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    root = tmp_path / "net"
    with Hosts(VALIDATORS) as hosts, contextlib.ExitStack() as stack:
        hosts_file = tmp_path / "hosts.txt"
        hosts_file.write_text("".join(f"{ip}\n" for ip in hosts.ips))
        args = ["testnet", "init", "--validators", str(VALIDATORS), "--out", str(root)]
        args += ["--hosts", str(hosts_file), "--base-port", str(NODE_PORT)]
        args += ["--channels", CHANNEL, "--app", "kv", "--metrics-base-port", "0"]
        assert cli(args) == 0
        proxies = {
            (i, j): stack.enter_context(
                TcpProxy(hosts.bridge_ip, 0, hosts.ips[j], NODE_PORT, seed=i * VALIDATORS + j)
            )
            for i in range(VALIDATORS)
            for j in range(VALIDATORS)
            if i != j
        }
        net = Cluster(root, hosts, proxies)
        for i, d in enumerate(net.dirs):
            route_peers_through_proxies(d / "config.toml", i, hosts, proxies)
        try:
            net.start()
            yield net
        finally:
            net.stop()


def test_partition_heal_and_degraded_links(cluster: Cluster) -> None:
    everyone = list(range(VALIDATORS))
    survivors = [i for i in everyone if i != CUT]

    def all_peers_connected() -> bool:
        statuses = [cluster.status(i) for i in everyone]
        return all(s is not None and s.peers_connected == VALIDATORS - 1 for s in statuses)

    cluster.wait(all_peers_connected, 40, "every node to connect to its 3 peers")
    assert all(p.connections > 0 for p in cluster.proxies.values()), "a link bypassed its proxy"

    # 1. All four commit a batch submitted to node 0.
    first = cluster.submit_batch(via=0, count=20)
    cluster.wait(cluster.committed(everyone, first), 20, "the first batch to commit everywhere")

    # 2. Unplug host CUT: the other three are a quorum and keep committing. They commit
    # more blocks than a replica's log window, one batch a block, so node CUT cannot come
    # back by retransmitted consensus messages alone: it has to fetch blocks.
    cluster.hosts.link_down(CUT)
    with pytest.raises(grpc.RpcError):
        cluster.stub(CUT).GetStatus(api.GetStatusRequest(), timeout=1)
    window = cluster.genesis().consensus_config().log_window_blocks
    height_before = cluster.height(0)
    second: list[bytes] = []
    for batch in range(3 * window):
        if cluster.height(0) > height_before + window:
            break
        txs = cluster.submit_batch(via=survivors[batch % len(survivors)], count=3)
        cluster.wait(cluster.committed(survivors, txs), 20, f"nodes 0-2 to commit batch {batch}")
        second += txs
    height_0 = cluster.height(0)
    assert height_0 > height_before + window, f"only {height_0 - height_before} blocks"
    height_cut = cluster.height_from_inside(CUT)  # alive, but it cannot have followed
    assert height_cut == height_before, (
        f"node {CUT} went from height {height_before} to {height_cut} while cut off"
    )

    # 3. Plug it back in: it catches up to the same height and state root as the others.
    cluster.hosts.link_up(CUT)
    cluster.redial(CUT)
    cluster.wait(cluster.committed([CUT], second), 40, f"node {CUT} to catch up")
    cluster.wait(cluster.same_state(everyone), 20, "every node to agree on height and state root")

    # 4. Degraded network: DELAY_MS on every link, and the links to and from host LOSSY break
    # connections now and then. Batches keep committing everywhere until those links have
    # really been reset a few times (so the faults are known to have been exercised).
    lossy = [p for (i, j), p in cluster.proxies.items() if LOSSY in (i, j)]
    for proxy in cluster.proxies.values():
        proxy.delay_ms = DELAY_MS
    for proxy in lossy:
        proxy.reset_probability = 0.02
    batches = 0
    while sum(p.resets for p in lossy) < 3:
        # ~0.6 resets a batch is typical: 40 batches fall short only on a broken proxy.
        assert batches < 40, f"only {sum(p.resets for p in lossy)} resets in {batches} batches"
        start = time.monotonic()
        txs = cluster.submit_batch(via=batches % VALIDATORS, count=10)
        cluster.wait(cluster.committed(everyone, txs), 30, f"degraded batch {batches} to commit")
        # A block takes a proposal and at least one round of votes, each over a slow link.
        latency = time.monotonic() - start
        assert latency >= 2 * DELAY_MS / 1000, f"batch {batches} committed in {latency:.3f} s"
        batches += 1
    cluster.wait(cluster.same_state(everyone), 20, "agreement on state after the degraded phase")
