#!/usr/bin/env python3
"""How long a validator change takes under load, and what it costs the clients.

Builds a local 4-validator testnet with the CLI an operator uses, offers a steady rate of
signed kv txs to the first four nodes, then grows every channel to 5 validators
(`testnet add-node`, `testnet up`, `testnet add-validator --wait`) and shrinks it back
(`testnet remove-validator --wait`). Prints the wall time of each change (submit to "new
set current on every node"), the committed throughput before, during and after each, and
checks that every accepted tx committed exactly once. A figure, not a test: the tests
(tests/e2e/test_validator_governance.py) check correctness.

    .venv/bin/python scripts/bench_governance.py --rate 300 --channels license catalog
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc

from chains.tx import tx_id
from cli.main import main as cli
from cli.ports import free_port_block
from cli.testnet_files import node_address, node_dirs, tls_of_testnet
from client.connection import connect, load_signing_key
from client.txs import kv_put_tx
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc


class Load(threading.Thread):
    """`rate` txs/s in batches of 20, round robin over the nodes and channels."""

    def __init__(self, root: Path, channels: list[str], rate: int, chain_id: str) -> None:
        super().__init__(daemon=True)
        tls = tls_of_testnet(root)
        self.stubs = [connect(node_address(d), tls) for d in node_dirs(root)[:4]]
        self.key = load_signing_key(root / "keys" / "client.key")
        self.channels, self.rate, self.chain_id = channels, rate, chain_id
        self.accepted: dict[str, list[bytes]] = {c: [] for c in channels}
        self.stop = threading.Event()

    def run(self) -> None:
        batch, i, start = 20, 0, time.monotonic()
        while not self.stop.is_set():
            channel = self.channels[i % len(self.channels)]
            txs = [
                kv_put_tx(self.key, self.chain_id, channel, b"k%d" % (i * batch + j), b"v")
                for j in range(batch)
            ]
            try:
                reply = self.stubs[i % 4].SubmitTransactions(api.SubmitRequest(txs=txs), timeout=5)
                for r in reply.results:
                    if r.status == api.ACCEPTED:
                        self.accepted[channel].append(r.tx_id)
            except grpc.RpcError:
                pass
            i += 1
            delay = start + i * batch / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def kv_txs_in_chain(stub: api_grpc.ClientStub, channel: str) -> list[bytes]:
    """Ids of the kv txs in the channel's blocks, in order (governance txs left out)."""
    tip = stub.GetStatus(api.GetStatusRequest(), timeout=5)
    height = next(c.height for c in tip.channels if c.channel == channel)
    ids = []
    for h in range(1, height + 1):
        block = stub.GetBlock(api.GetBlockRequest(channel=channel, height=h), timeout=10)
        for raw in block.block.block.txs:
            env = api.TxEnvelope.FromString(raw)
            if api.TxBody.FromString(env.body).type == "kv.put":
                ids.append(tx_id(raw))
    return ids


def timed(label: str, argv: list[str], load: Load) -> None:
    before = sum(len(v) for v in load.accepted.values())
    t0 = time.monotonic()
    assert cli(argv) == 0, f"{label} failed"
    took = time.monotonic() - t0
    after = sum(len(v) for v in load.accepted.values())
    print(f"{label}: {took:.1f} s; {(after - before) / took:.0f} tx/s accepted meanwhile")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rate", type=int, default=300, help="txs/s offered (default 300)")
    p.add_argument("--channels", nargs="+", default=["license"])
    p.add_argument("--settle", type=float, default=10.0, help="s of load before/after")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "net"
        base = free_port_block(6)
        init = ["testnet", "init", "--validators", "4", "--out", str(root)]
        init += ["--base-port", str(base), "--channels", *args.channels]
        init += ["--metrics-base-port", "0"]
        assert cli(init) == 0 and cli(["testnet", "up", "--dir", str(root)]) == 0
        try:
            stub = connect(node_address(node_dirs(root)[0]), tls_of_testnet(root))
            load = Load(root, args.channels, args.rate, "govchain-testnet")
            load.start()
            time.sleep(args.settle)
            assert cli(["testnet", "add-node", "--dir", str(root), "--name", "newcomer"]) == 0
            assert cli(["testnet", "up", "--dir", str(root)]) == 0
            grow = ["testnet", "add-validator", "--dir", str(root), "--node", "newcomer"]
            timed("grow 4 -> 5 (submit to switched everywhere)", [*grow, "--wait"], load)
            time.sleep(args.settle)
            shrink = ["testnet", "remove-validator", "--dir", str(root), "--node", "newcomer"]
            timed("shrink 5 -> 4", [*shrink, "--wait"], load)
            time.sleep(args.settle)
            load.stop.set()
            load.join()
            deadline = time.monotonic() + 60
            for channel, ids in load.accepted.items():
                found = kv_txs_in_chain(stub, channel)
                while len(found) < len(ids) and time.monotonic() < deadline:
                    time.sleep(0.5)
                    found = kv_txs_in_chain(stub, channel)
                print(f"{channel}: {len(ids)} txs accepted, {len(found)} in the chain")
                assert sorted(found) == sorted(ids), "a tx was lost or committed twice"
        finally:
            cli(["testnet", "down", "--dir", str(root)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
