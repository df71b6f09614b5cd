"""The operators' commands on a testnet of the national (国密) suite (`testnet init
--crypto-suite sm2-sm3`), each taking the suite from the network (its validators' keys):
`govchain department rotate-key` rotates a department's SM2 tx key with an SM2 proof of
possession, after which the new key writes and the old one is refused; `govchain
governance propose | approve | submit` makes an SM2-approved proposal the core accepts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main as cli
from cli.testnet_files import write_key
from tests.e2e.harness import Testnet
from tests.e2e.test_key_rotation import committed_ok, department_only, put

CHANNELS = ("license", "catalog")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    t = Testnet(
        tmp_path_factory.mktemp("suite-cli") / "net",
        channels=CHANNELS,
        crypto_suite="sm2-sm3",
        view_change_timeout_ticks=20,
        status_interval_ticks=5,
    )
    department_only(t, "sm2-sm3")
    try:
        t.start_all()
        yield t
    finally:
        t.stop_all()


def test_a_department_rotates_its_sm2_key(
    net: Testnet, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    old = net.configs[0].department_key_file
    assert old is not None
    new = tmp_path / "new.tx.key"
    write_key(new, "sm2-sm3")
    args = ["--old-key", str(old), "--new-key", str(new), "--node", net.address(0)]
    capsys.readouterr()
    assert cli(["department", "rotate-key", *args, "--tls", str(net.root / "tls")]) == 0
    out = capsys.readouterr().out
    assert all(re.search(rf"{ch}: rotated at height \d+", out) for ch in CHANNELS), out
    assert re.search(r"the new key 04[0-9a-f]{128} signs", out), out  # an SM2 key
    for ch in CHANNELS:
        assert put(net, 0, old, ch, b"old", "sm2-sm3").status != 0  # refused: not ACCEPTED
        assert committed_ok(net, 0, ch, put(net, 0, new, ch, b"new", "sm2-sm3"))


def test_an_sm2_governance_proposal_is_approved_and_accepted(
    net: Testnet, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    joining = write_key(tmp_path / "joining.key", "sm2-sm3")
    proposal, tls = tmp_path / "p.json", str(net.root / "tls")
    node = ["--node", net.address(1), "--tls", tls]
    change = ["--add-validator", joining.hex(), "--address", "127.0.0.1:1", "--out"]
    assert (
        cli(["governance", "propose", *node, "--channel", "license", *change, str(proposal)]) == 0
    )
    assert json.loads(proposal.read_text())["crypto_suite"] == "sm2-sm3"  # the network's
    for i in range(3):
        assert (
            cli(["governance", "approve", str(proposal), "--key", str(net.configs[i].key_file)])
            == 0
        )
    capsys.readouterr()
    submitter = str(net.configs[2].department_key_file)
    assert cli(["governance", "submit", str(proposal), *node, "--key", submitter]) == 0
    assert "accepted at height" in capsys.readouterr().out
