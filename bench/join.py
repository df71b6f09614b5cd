"""Joining a channel by snapshot versus by replay from genesis (docs/benchmark.md).

    python -m bench.join --txs 1000000

A 4-validator testnet (mutual TLS, synced LevelDB, one kv channel, snapshots every
`--snapshot-every` checkpoints) takes `--txs` committed txs from closed-loop load
clients. Then validator 3 loses its data twice: once it rejoins with `state_sync = true`
(installing the newest snapshot, then block-syncing the rest), once with `state_sync =
false` (replaying every block from genesis). Each join is timed from the process start
to the channel's height reaching the network's tip, on the same network in one run, so
the two figures are paired. The network is idle while a node joins.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.load import ClientPlan, run_client
from bench.run import CLIENTS, init_testnet, wait_ready
from cli.processes import NodeProcesses
from client.connection import connect
from node.config import load_config
from protos import api_pb2 as api

CHANNEL = "license"
JOINER = 3


def _load(nodes: NodeProcesses, configs: list, target: int, payload: int) -> int:
    """Closed-loop load from two client processes until `target` txs were accepted."""
    accepted, round_ = 0, 0
    addresses = [c.listen for c in configs]
    while accepted < target:
        want = target - accepted
        queue = CLIENTS.Queue()
        ready = CLIENTS.Value("d", 0.0)
        plans = [
            ClientPlan(
                100 * round_ + i,
                addresses[i % 3],  # not the joiner
                configs[0].chain_id,
                [CHANNEL],
                want // 2 + 200,
                200,
                payload,
                0.0,
                0.0,
                24 * 3600,
                nodes.tls,
            )
            for i in range(2)
        ]
        procs = [CLIENTS.Process(target=run_client, args=(p, queue, ready)) for p in plans]
        for p in procs:
            p.start()
        for _ in procs:
            assert queue.get(timeout=1800)[0] == "ready"
        ready.value = time.time()
        done = 0
        while done < len(procs):
            kind, _, payload_ = queue.get(timeout=3600)
            if kind == "done":
                done += 1
                accepted += sum(
                    1 for _, statuses in payload_ for _, st in statuses if st == api.ACCEPTED
                )
        for p in procs:
            p.join()
        round_ += 1
        print(f"  accepted {accepted:,} txs", flush=True)
    return accepted


def _height(address: str, tls) -> int:
    try:
        st = connect(address, tls).GetStatus(api.GetStatusRequest(), timeout=5)
    except Exception:
        return -1
    return next((c.height for c in st.channels if c.channel == CHANNEL), -1)


def _settled(addresses: list[str], tls) -> int:
    """Wait until the running validators agree on a height that no longer moves."""
    last, since = -1, time.time()
    while True:
        heights = {_height(a, tls) for a in addresses}
        top = max(heights)
        if len(heights) == 1 and top == last and time.time() - since > 5:
            return top
        if top != last:
            last, since = top, time.time()
        time.sleep(0.5)


def _committed_txs(address: str, tls, top: int) -> int:
    stub, count = connect(address, tls), 0
    for height in range(1, top + 1):
        reply = stub.GetBlock(api.GetBlockRequest(channel=CHANNEL, height=height), timeout=30)
        count += sum(1 for r in reply.results.results if r.code == 0)
    return count


def _metric(listen: str, name: str) -> float:
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "{") and f'channel="{CHANNEL}"' in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def _join(nodes: NodeProcesses, config_path: Path, state_sync: bool, top: int, tls) -> dict:
    """Wipe the joiner, start it, time it to the tip."""
    config = load_config(config_path)
    nodes.stop(JOINER)
    shutil.rmtree(config.data_dir, ignore_errors=True)
    text = "\n".join(
        line for line in config_path.read_text().splitlines() if not line.startswith("state_sync")
    )
    config_path.write_text(f"state_sync = {'true' if state_sync else 'false'}\n{text}\n")
    installs_before = nodes.log(JOINER).count("snapshot installed")
    t0 = time.time()
    nodes.start(JOINER)
    while _height(config.listen, tls) < top:
        if time.time() - t0 > 3 * 3600:
            raise SystemExit("the joiner did not reach the tip in 3 hours")
        time.sleep(0.2)
    seconds = time.time() - t0
    installed = nodes.log(JOINER).count("snapshot installed") > installs_before
    size = sum(f.stat().st_size for f in config.data_dir.rglob("*") if f.is_file())
    how = "snapshot" if state_sync else "replay"
    print(f"  by {how}: {seconds:.1f} s to height {top} (snapshot used: {installed})", flush=True)
    return {"seconds": round(seconds, 1), "snapshot_installed": installed, "data_bytes": size}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--txs", type=int, default=1_000_000)
    p.add_argument("--payload", type=int, default=100, help="value bytes per tx")
    p.add_argument("--snapshot-every", type=int, default=25, help="checkpoints")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="govchain-join-")) / "net"
    init_testnet(root, 4, [CHANNEL], 1000)
    nodes = NodeProcesses.of_testnet(root)
    paths = [spec.config for spec in nodes.specs]
    for path in paths:
        path.write_text(
            f"snapshot_interval_checkpoints = {args.snapshot_every}\n" + path.read_text()
        )
    configs = [load_config(path) for path in paths]
    tls = nodes.tls
    try:
        nodes.start_all()
        wait_ready(nodes)
        print(f"load: {args.txs:,} txs, closed loop ...", flush=True)
        t0 = time.time()
        _load(nodes, configs, args.txs, args.payload)
        top = _settled([c.listen for c in configs], tls)
        load_s = time.time() - t0
        committed = _committed_txs(configs[0].listen, tls, top)
        snapshot = _metric(configs[1].metrics_listen, "govchain_snapshot_height")
        print(f"  {committed:,} txs committed in {top:,} blocks; newest snapshot {snapshot:.0f}")
        result = {
            "txs_committed": committed,
            "blocks": top,
            "load_seconds": round(load_s, 1),
            "snapshot_height": int(snapshot),
            "by_snapshot": _join(nodes, paths[JOINER], True, top, tls),
        }
        others = [c.listen for i, c in enumerate(configs) if i != JOINER]
        top = _settled(others, tls)
        result["by_replay"] = _join(nodes, paths[JOINER], False, top, tls)
        ratio = result["by_replay"]["seconds"] / max(result["by_snapshot"]["seconds"], 0.1)
        result["replay_over_snapshot"] = round(ratio, 1)
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        nodes.stop_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
