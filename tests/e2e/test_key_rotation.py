"""Key rotation on real node processes, without a restart or a re-genesis: a department
replaces its tx key on every channel (`govchain department rotate-key`), after which its
new key writes and its old one is refused; and a validator's consensus key is replaced by
governance (`governance propose --replace-validator OLD --with NEW`), after which the
channel commits with the new validator voting and the old one stopped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from cli.main import main as cli
from cli.testnet_files import write_key
from client.connection import load_signing_key
from client.txs import kv_put_tx, submit, wait_committed
from crypto import DEFAULT_SUITE
from node.config import make_genesis
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from tests.e2e.harness import Testnet, wait_for

CHANNELS = ("license", "catalog")
ROTATED = "license"  # the channel whose validator key is replaced


def department_only(net: Testnet, suite: str = DEFAULT_SUITE) -> None:
    """Every channel's genesis: only department keys write (before any node starts)."""
    for ch in net.channels:
        path = net.root / "genesis" / f"{ch}.json"
        data = json.loads(path.read_text())
        validators = [(v["node_id"], bytes.fromhex(v["public_key"])) for v in data["validators"]]
        app = {**data["app"], "write_policy": {"*": ["department"]}}
        genesis = make_genesis(data["chain_id"], ch, validators, data["consensus"], app, suite)
        path.write_bytes(genesis)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    t = Testnet(
        tmp_path_factory.mktemp("rotation") / "net",
        channels=CHANNELS,
        checkpoint_interval_blocks=4,
        log_window_blocks=8,
        view_change_timeout_ticks=20,
        status_interval_ticks=5,
    )
    department_only(t)
    try:
        t.start_all()
        yield t
    finally:
        t.stop_all()


def put(
    net: Testnet, node: int, key_file: Path, channel: str, k: bytes, suite: str = DEFAULT_SUITE
) -> api.SubmitResult:
    """Submit one kv.put signed by `key_file` (a key of the chain's `suite`);
    PERMISSION_DENIED comes back as a status."""
    raw = kv_put_tx(load_signing_key(key_file, suite=suite), net.chain_id, channel, k, b"v")
    try:
        (result,) = submit(net.stub(node), [raw])
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED, e
        return api.SubmitResult(status=api.PERMISSION_DENIED, detail=e.details() or "")
    return result


def committed_ok(net: Testnet, node: int, channel: str, result: api.SubmitResult) -> bool:
    assert result.status == api.ACCEPTED, result
    return wait_committed(net.stub(node), channel, result.tx_id, 30).result.code == 0


def test_a_department_rotates_its_tx_key_on_every_channel(
    net: Testnet, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    old = net.configs[0].department_key_file
    assert old is not None
    new = tmp_path / "new.tx.key"
    write_key(new)
    for ch in CHANNELS:
        assert committed_ok(net, 1, ch, put(net, 1, old, ch, b"before"))
        assert put(net, 1, new, ch, b"stranger").status == api.PERMISSION_DENIED
    args = ["--old-key", str(old), "--new-key", str(new), "--node", net.address(0)]
    args += ["--tls", str(net.root / "tls")]
    capsys.readouterr()
    assert cli(["department", "rotate-key", *args]) == 0
    out = capsys.readouterr().out
    assert all(re.search(rf"{ch}: rotated at height \d+", out) for ch in CHANNELS), out
    for ch in CHANNELS:
        for node in (1, 3):  # not the node the rotation went to: every node applied it
            height = net.status(0)[ch].height
            wait_for(lambda n=node, h=height, c=ch: net.status(n)[c].height >= h, 30, "catch up")
            refused = put(net, node, old, ch, b"old")
            assert refused.status == api.PERMISSION_DENIED
            assert "not a registered department key" in refused.detail
            assert committed_ok(net, node, ch, put(net, node, new, ch, b"new%d" % node))
    # Running it again finds every channel rotated and changes nothing.
    assert cli(["department", "rotate-key", *args]) == 0
    assert capsys.readouterr().out.count("already rotated") == len(CHANNELS)


def voters(net: Testnet, node: int, height: int) -> set[bytes]:
    req = api.GetBlockRequest(channel=ROTATED, height=height)
    block = net.stub(node).GetBlock(req, timeout=5)
    return {pb.ConsensusMessage.FromString(c.body).sender for c in block.block.commits}


def test_a_validator_key_replaced_by_governance(
    net: Testnet, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    new = net.add_node()
    net.start(new)
    net.wait_ready(new)
    old_key = bytes(load_signing_key(net.configs[3].key_file).verify_key)
    new_key = bytes(load_signing_key(net.configs[new].key_file).verify_key)
    proposal, tls = str(tmp_path / "p.json"), str(net.root / "tls")
    node = ["--node", net.address(1), "--tls", tls]
    change = ["--replace-validator", old_key.hex(), "--with", new_key.hex()]
    change += ["--address", net.address(new), "--out", proposal]
    assert cli(["governance", "propose", *node, "--channel", ROTATED, *change]) == 0
    for i in range(3):
        assert cli(["governance", "approve", proposal, "--key", str(net.configs[i].key_file)]) == 0
    capsys.readouterr()
    submitter = str(net.configs[2].department_key_file)
    assert cli(["governance", "submit", proposal, *node, "--key", submitter]) == 0
    found = re.search(r"new set from height (\d+)", capsys.readouterr().out)
    assert found
    switch = int(found.group(1))
    st = net.status(1)[ROTATED]
    assert list(st.next_validators) == [new_key if k == old_key else k for k in st.validators]

    def switched(i: int) -> bool:
        return new_key in net.status(i)[ROTATED].validators

    for i in (0, 1, 2, new):  # the new key in the old one's place, the set as large
        wait_for(lambda i=i: switched(i), 60, f"node {i} on the new set")
        st = net.status(i)[ROTATED]
        assert new_key in st.validators and old_key not in st.validators, i
        assert len(st.validators) == 4 and st.member
    net.stop(3)  # the replaced validator leaves: the new set still has its quorum
    department = net.configs[1].department_key_file
    assert department is not None
    writes = iter(range(1000))

    def the_new_key_votes() -> bool:
        """Commit one more tx; whether its block's certificate carries the new key's vote
        (a certificate holds a quorum, so the new node's vote may be left out)."""
        result = put(net, 1, department, ROTATED, b"after%d" % next(writes))
        found = wait_committed(net.stub(1), ROTATED, result.tx_id, 30)
        assert found.result.code == 0 and found.height >= switch
        signed = voters(net, 1, found.height)
        assert old_key not in signed
        return new_key in signed

    wait_for(the_new_key_votes, 60, "a commit certificate with the new key's vote")
