"""Validator governance on real node processes: a channel grows from 4 to 5 validators and
shrinks back under steady load without losing or repeating a tx; too few approvals change
nothing; a write policy changed by governance holds, also across a restart.

Everything goes through the `govchain` CLI an operator would use (`testnet add-node`,
`testnet add-validator | remove-validator --wait`, `governance propose | approve |
submit`). Small checkpoint intervals and log windows keep each switch to a few blocks.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import nacl.signing
import pytest

from chains.tx import tx_id
from cli.main import main as cli
from client.connection import load_signing_key
from client.txs import kv_put_tx, submit
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from tests.e2e.harness import Testnet, wait_for

GROW = "license"  # grows to 5 validators and back, under load
POLICY = "catalog"  # write policy and refusals


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    t = Testnet(
        tmp_path_factory.mktemp("governance") / "net",
        channels=(GROW, POLICY),
        checkpoint_interval_blocks=4,
        log_window_blocks=8,
        view_change_timeout_ticks=20,
        status_interval_ticks=5,
    )
    try:
        t.start_all()
        yield t
    finally:
        t.stop_all()


def public(net: Testnet, i: int) -> bytes:
    return bytes(load_signing_key(net.configs[i].key_file).verify_key)


def tx_key_file(net: Testnet, i: int) -> str:
    return str(net.configs[i].department_key_file)


def committed_voters(net: Testnet, node: int, channel: str, height: int) -> set[bytes]:
    """Senders of the COMMITs in the certificate stored with block `height`."""
    block = net.stub(node).GetBlock(api.GetBlockRequest(channel=channel, height=height), timeout=5)
    return {pb.ConsensusMessage.FromString(c.body).sender for c in block.block.commits}


class Load(threading.Thread):
    """Signed kv txs at a steady rate to nodes 0-3; remembers every accepted tx id."""

    def __init__(self, net: Testnet, channel: str, per_tick: int = 5, tick_s: float = 0.05):
        super().__init__(daemon=True)
        self.net, self.channel, self.per_tick, self.tick_s = net, channel, per_tick, tick_s
        self.key = load_signing_key(net.client_key)
        self.accepted: list[bytes] = []
        self.refused: Counter[str] = Counter()
        self.halt = threading.Event()

    def run(self) -> None:
        stubs = [self.net.stub(i) for i in range(4)]
        n, at = 0, time.monotonic()
        while not self.halt.is_set():
            txs = [
                kv_put_tx(self.key, self.net.chain_id, self.channel, b"load%d" % i, b"v", nonce=i)
                for i in range(n, n + self.per_tick)
            ]
            try:
                results = submit(stubs[(n // self.per_tick) % 4], txs, timeout_s=5)
            except grpc.RpcError as e:
                self.refused[e.code().name] += len(txs)
                results = []
            n += self.per_tick
            for r in results:
                if r.status == api.ACCEPTED:
                    self.accepted.append(r.tx_id)
                else:
                    self.refused[api.TxStatus.Name(r.status)] += 1
            at += self.tick_s
            self.halt.wait(max(0.0, at - time.monotonic()))

    def stop(self) -> None:
        self.halt.set()
        self.join(10)


def switch_height(out: str) -> int:
    found = re.search(r"new set from height (\d+)", out)
    assert found, out
    return int(found.group(1))


def test_grow_to_five_and_back_under_load(net: Testnet, capsys: pytest.CaptureFixture) -> None:
    new = net.add_node()
    name, key5 = net.configs[new].node_id, public(net, new)
    net.start(new)
    net.wait_ready(new)
    assert net.status(new)[GROW].member is False  # an observer until governance adds it
    load = Load(net, GROW)
    load.start()
    try:
        wait_for(lambda: len(load.accepted) >= 100, 30, "load to get going")
        root = str(net.root)
        args = ["--node", name, "--channels", GROW, "--wait", "--timeout", "60"]
        capsys.readouterr()
        assert cli(["testnet", "add-validator", root, *args]) == 0
        grown_at = switch_height(capsys.readouterr().out)
        for i in range(5):
            st = net.status(i)[GROW]
            assert len(st.validators) == 5 and key5 in st.validators, i
        assert net.status(new)[GROW].member is True
        top = max(net.heights(GROW, [0, 1, 2, 3]))
        wait_for(lambda: net.status(new)[GROW].height >= top, 30, "the new validator caught up")
        scanned = grown_at

        def new_node_signed_a_commit() -> bool:
            nonlocal scanned
            while scanned <= net.status(0)[GROW].height:
                if key5 in committed_voters(net, 0, GROW, scanned):
                    return True
                scanned += 1
            return False

        wait_for(new_node_signed_a_commit, 30, "a commit certificate with the new node's vote")

        assert cli(["testnet", "remove-validator", root, *args]) == 0
        shrunk_at = switch_height(capsys.readouterr().out)
        st = net.status(new)[GROW]
        assert st.member is False and key5 not in st.validators and len(st.validators) == 4
        following = st.height
        wait_for(lambda: net.status(new)[GROW].height > following + 5, 30, "observer follows")
        wait_for(lambda: net.status(0)[GROW].height > shrunk_at, 30, "blocks past the shrink")
        assert key5 not in committed_voters(net, 0, GROW, shrunk_at + 1)
    finally:
        load.stop()
    assert not load.is_alive()
    accepted = set(load.accepted)
    assert len(accepted) == len(load.accepted) > 200, load.refused
    ok: Counter[bytes] = Counter()
    scanned_to = 0

    def all_committed() -> bool:
        nonlocal scanned_to
        stub = net.stub(0)
        while scanned_to < net.status(0)[GROW].height:
            scanned_to += 1
            r = stub.GetBlock(api.GetBlockRequest(channel=GROW, height=scanned_to), timeout=5)
            for raw, result in zip(r.block.block.txs, r.results.results, strict=True):
                if result.code == 0 and api.TxBody.FromString(
                    api.TxEnvelope.FromString(raw).body
                ).type.startswith("kv."):
                    ok[tx_id(raw)] += 1
        return accepted <= set(ok)

    wait_for(all_committed, 60, "every accepted tx to commit")
    assert set(ok) == accepted and set(ok.values()) == {1}  # each exactly once, no others
    top = net.status(0)[GROW].height
    wait_for(lambda: net.heights(GROW) == [top] * 5, 30, "every node at the same height")
    roots = {
        net.stub(i).GetBlock(api.GetBlockRequest(channel=GROW, height=top)).results.state_root
        for i in range(5)
    }
    assert len(roots) == 1
    for tid in load.accepted:  # the observer's index finds each one too
        net.stub(new).GetTransaction(api.GetTransactionRequest(channel=GROW, tx_id=tid), timeout=5)


def test_too_few_approvals_are_refused_and_change_nothing(
    net: Testnet, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    before = net.status(0)[POLICY]
    stranger = nacl.signing.SigningKey.generate().verify_key
    proposal, tls = str(tmp_path / "p.json"), str(net.root / "tls")
    node = ["--node", net.address(1), "--tls", tls]
    change = ["--add-validator", bytes(stranger).hex(), "--address", "127.0.0.1:1"]
    assert (
        cli(["governance", "propose", *node, "--channel", POLICY, *change, "--out", proposal]) == 0
    )
    assert cli(["governance", "approve", proposal, "--key", str(net.configs[0].key_file)]) == 0
    capsys.readouterr()
    assert cli(["governance", "submit", proposal, *node, "--key", tx_key_file(net, 1)]) == 1
    out = capsys.readouterr().out
    assert "refused" in out and "1 approvals, 3 of 4 validators needed" in out
    committed = re.search(r"refused at height (\d+)", out)
    assert committed
    block = net.stub(2).GetBlock(
        api.GetBlockRequest(channel=POLICY, height=int(committed.group(1))), timeout=5
    )
    assert [r.code for r in block.results.results] == [6]  # GOVERNANCE_REFUSED, everywhere
    for i in range(4):
        st = net.status(i)[POLICY]
        assert list(st.validators) == list(before.validators)
        assert st.governance_sequence == before.governance_sequence
        assert st.next_set_from_height == 0


def test_write_policy_by_governance_denies_and_survives_restart(
    net: Testnet, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    client = load_signing_key(net.client_key)

    def put(node: int, k: bytes) -> list[api.SubmitResult]:
        return submit(net.stub(node), [kv_put_tx(client, net.chain_id, POLICY, k, b"v")])

    assert [r.status for r in put(1, b"before")] == [api.ACCEPTED]
    sequence = net.status(1)[POLICY].governance_sequence
    policy = tmp_path / "policy.json"
    policy.write_text('{"*": ["department"]}')
    proposal, tls = str(tmp_path / "p.json"), str(net.root / "tls")
    node = ["--node", net.address(0), "--tls", tls]
    change = ["--write-policy", str(policy), "--out", proposal]
    assert cli(["governance", "propose", *node, "--channel", POLICY, *change]) == 0
    for i in range(3):
        assert cli(["governance", "approve", proposal, "--key", str(net.configs[i].key_file)]) == 0
    capsys.readouterr()
    assert cli(["governance", "submit", proposal, *node, "--key", tx_key_file(net, 2)]) == 0
    assert "accepted at height" in capsys.readouterr().out

    def denied(node: int) -> bool:
        with pytest.raises(grpc.RpcError) as refused:
            put(node, b"after")
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        return "not a registered department key" in (refused.value.details() or "")

    for i in (1, 3):  # the submitter saw it commit; the others apply the same block
        wait_for(lambda i=i: net.status(i)[POLICY].governance_sequence > sequence, 10, "policy")
    assert denied(1) and denied(3)
    net.stop(1)
    net.start(1)
    net.wait_ready(1)
    assert denied(1)  # read back from the world state at start
    department = load_signing_key(net.configs[1].department_key_file)
    raw = kv_put_tx(department, net.chain_id, POLICY, b"dept", b"v")
    assert [r.status for r in submit(net.stub(1), [raw])] == [api.ACCEPTED]
    wait_for(
        lambda: net.stub(1).GetState(api.GetStateRequest(channel=POLICY, key=b"dept")).found,
        30,
        "a department's write after the restart",
    )
