"""A validator whose disk fills up under load stops, loudly, and comes back whole.

One node's data directory is a small tmpfs, filled up to a little headroom by a file
that stands for everything else on a real disk. Under load the node's next synced write
fails with ENOSPC: it must log the cause and exit with status 75 (its supervisor's cue
to restart it) while the other three keep committing; once the space is freed it
restarts, passes the ledger integrity check, catches up by block sync and holds the
same blocks and state roots as the others.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from client.connection import load_signing_key
from client.txs import kv_put_tx, submit
from node.node import EXIT_STORAGE_FAILURE
from protos import api_pb2 as api
from tests.e2e.harness import Testnet, wait_for

VICTIM = 3  # not the primary of view 0: the others need no view change to go on
TMPFS_BYTES = 16 << 20
HEADROOM_BYTES = 3 << 20  # left free after the filler: a few loaded blocks' worth


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "small-disk"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(where: Path, headroom: int) -> Path:
    stat = os.statvfs(where)
    free = stat.f_bavail * stat.f_frsize
    filler = where / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - headroom))
    return filler


def _load(net: Testnet, start: int, count: int) -> None:
    key = load_signing_key(net.client_key)
    txs = [
        kv_put_tx(key, net.chain_id, "license", b"k%d" % i, os.urandom(400), nonce=i)
        for i in range(start, start + count)
    ]
    with contextlib.suppress(grpc.RpcError):  # busy: the next round tries again
        submit(net.stub(0), txs, timeout_s=10)


def test_a_full_disk_stops_the_node_and_after_freeing_space_it_catches_up(
    tmp_path: Path, tmpfs: Path
) -> None:
    net = Testnet(
        tmp_path / "net", channels=("license",), view_change_timeout_ticks=20, insecure=True
    )
    data_dir = net.configs[VICTIM].data_dir
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.symlink_to(tmpfs, target_is_directory=True)
    try:
        net.start_all()
        filler = _fill(tmpfs, HEADROOM_BYTES)
        victim = net.procs[VICTIM]
        assert victim is not None
        sent, reached = 0, 0
        deadline = time.monotonic() + 30
        while victim.poll() is None and time.monotonic() < deadline:
            _load(net, sent, 200)
            sent += 200
            with contextlib.suppress(grpc.RpcError):  # stopping
                reached = net.status(VICTIM)["license"].height
        assert victim.poll() == EXIT_STORAGE_FAILURE, net.log(VICTIM)[-3000:]
        assert reached >= 1  # it committed blocks on this disk before it filled up
        net.procs[VICTIM] = None
        log = net.log(VICTIM)
        assert "storage failure" in log and "ENOSPC" in log, log[-3000:]
        assert "No space left on device" in log
        assert "exit status 75" in log

        # The others keep committing without it.
        before = max(net.heights("license", [0, 1, 2]))
        _load(net, sent, 50)
        sent += 50
        wait_for(
            lambda: min(net.heights("license", [0, 1, 2])) > before, 20, "the others to commit"
        )

        # Space freed: it restarts (the integrity check runs at start) and catches up.
        filler.unlink()
        net.start(VICTIM)
        net.wait_ready(VICTIM)
        _load(net, sent, 50)
        wait_for(
            lambda: len(set(net.heights("license"))) == 1 and net.heights("license")[0] > before,
            30,
            "the restarted node to catch up",
        )
        _assert_identical_ledgers(net)
    finally:
        net.stop_all()


def _assert_identical_ledgers(net: Testnet) -> None:
    top = min(net.heights("license"))
    for height in range(1, top + 1):
        blocks = [
            net.stub(i).GetBlock(api.GetBlockRequest(channel="license", height=height), timeout=5)
            for i in range(4)
        ]
        assert len({(b.hash, b.results.state_root) for b in blocks}) == 1, height
