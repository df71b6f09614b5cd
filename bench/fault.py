"""The fault run: kill the primary under steady load, restart it, time what follows.

Reports how long until blocks commit again (on a node that stays up), the worst commit
latency of the txs submitted around the kill, and how long the restarted node takes to
catch up with the others on every channel.
"""

from __future__ import annotations

import time

from bench.observe import CommitWatcher
from cli.processes import NodeProcesses
from protos import api_pb2 as api


def primary_index(configs: list) -> int:
    """Index (in `configs`) of the primary of view 0: the first validator of the genesis."""
    from node.config import load_genesis

    c = configs[0]
    genesis = load_genesis(c.genesis_dir / f"{c.channels[0]}.json", c.chain_id, c.channels[0])
    first = genesis.validators[0][0]
    return next(i for i, cfg in enumerate(configs) if cfg.node_id == first)


class FaultRun:
    """Kill the primary at mid-run; restart it at three quarters; time the consequences."""

    def __init__(
        self, args, nodes: NodeProcesses, configs, addresses, primary: int, begin: float, tls=None
    ) -> None:
        self.tls = tls
        import threading

        self.args, self.nodes, self.configs = args, nodes, configs
        self.addresses, self.primary = addresses, primary
        self.kill_at = begin + args.duration / 2
        self.restart_at = begin + args.duration * 0.75
        self.killed = self.restarted = self.caught_up = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        time.sleep(max(0.0, self.kill_at - time.time()))
        self.nodes.kill(self.primary)
        self.killed = time.time()
        print(f"fault: killed the primary ({self.configs[self.primary].node_id})", flush=True)
        time.sleep(max(0.0, self.restart_at - time.time()))
        self.nodes.start(self.primary)
        self.restarted = time.time()
        print("fault: restarted it", flush=True)
        self._wait_caught_up()

    def _heights(self, address: str) -> dict[str, int]:
        from client.connection import connect

        st = connect(address, self.tls).GetStatus(api.GetStatusRequest(), timeout=2)
        return {c.channel: c.height for c in st.channels}

    def _wait_caught_up(self) -> None:
        import grpc

        others = [a for i, a in enumerate(self.addresses) if i != self.primary]
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                mine = self._heights(self.addresses[self.primary])
                top: dict[str, int] = {}
                for a in others:
                    for ch, h in self._heights(a).items():
                        top[ch] = max(top.get(ch, 0), h)
                if mine and all(mine.get(ch, 0) >= h for ch, h in top.items()):
                    self.caught_up = time.time()
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)

    def finish(self) -> None:
        self.thread.join(timeout=150)

    def figures(self, watcher: CommitWatcher, submitted: dict[bytes, float]) -> dict:
        after = [t for t, *_ in watcher.blocks if t > self.killed]
        resume_s = (min(after) - self.killed) if after and self.killed else None
        window = (self.killed - 1.0, self.killed + (resume_s or 0) + 1.0)
        spike = []
        for tid, t0 in submitted.items():
            t = watcher.commit_time(tid)
            if t is not None and window[0] <= t0 <= window[1]:
                spike.append((t - t0) * 1000)
        return {
            "killed_node": self.configs[self.primary].node_id,
            "commits_resumed_after_s": round(resume_s, 2) if resume_s is not None else None,
            "latency_spike_max_ms": round(max(spike), 1) if spike else None,
            "catch_up_s": round(self.caught_up - self.restarted, 2) if self.caught_up else None,
        }
