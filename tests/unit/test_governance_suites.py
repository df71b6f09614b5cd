"""Governance on an `sm2-sm3` chain (issue 14): a proposal file names the chain's suite,
`approve` signs with the validator's SM2 key, loading the file checks every approval with
SM2, and the consensus core, judging with the suite, accepts the tx; an `ed25519-sha256`
file stays what it was (no suite field). `testnet add-node` on an `sm2-sm3` testnet
writes SM2 keys and names its peers by their SM2 keys.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chains.governance import approval_verifies, approve
from cli.main import main as cli
from cli.proposal_file import ProposalError, ProposalFile
from cli.testnet_files import public_key_of, write_key
from consensus.config import ConsensusConfig
from consensus.membership import Membership, decide
from crypto import SuiteSigner, suite_by_name
from node.config import load_config, load_genesis
from node.governance import read_governance

SM2 = suite_by_name("sm2-sm3")


@pytest.fixture
def sm2_validators(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "keys" / f"v{i}.key" for i in range(4)]
    for p in paths:
        write_key(p, "sm2-sm3")
    return paths


def signer(path: Path) -> SuiteSigner:
    return SuiteSigner.from_seed(SM2, bytes.fromhex(path.read_text().strip()))


def propose(tmp_path: Path, *args: str) -> tuple[int, Path]:
    out = tmp_path / "p.json"
    base = ["governance", "propose", "--channel", "license", "--sequence", "0"]
    return cli([*base, *args, "--out", str(out)]), out


def test_sm2_approvals_are_signed_checked_and_accepted_by_the_core(
    tmp_path: Path, sm2_validators: list[Path]
) -> None:
    keys = [signer(p) for p in sm2_validators]
    public = tuple(k.public_key for k in keys)
    new = public_key_of(bytes(range(32)), "sm2-sm3")
    code, out = propose(
        tmp_path, "--crypto-suite", "sm2-sm3", "--add-validator", new.hex(), "--address", "h:1"
    )
    assert code == 0 and json.loads(out.read_text())["crypto_suite"] == "sm2-sm3"
    for path in sm2_validators[:3]:
        assert cli(["governance", "approve", str(out), "--key", str(path)]) == 0
    pf = ProposalFile.load(out)  # each approval checked with SM2
    assert pf.crypto_suite == "sm2-sm3" and list(pf.approvals) == list(public[:3])
    raw = pf.tx(keys[0], valid_until_height=1000, nonce=1)
    gtx = read_governance(raw, "govchain-testnet", "license", 64 << 10)
    assert gtx is not None and not gtx.problem
    cfg = ConsensusConfig(
        channel="license",
        validators=public,
        checkpoint_interval_blocks=4,
        log_window_blocks=8,
        hashing=SM2,
    )
    membership, why = decide(Membership.genesis(public), gtx, 5, cfg, SM2)
    assert why == "" and membership.epochs[-1].validators == (*public, new)


def test_a_forged_sm2_approval_is_refused_on_load(
    tmp_path: Path, sm2_validators: list[Path]
) -> None:
    new = public_key_of(bytes(range(32)), "sm2-sm3")
    _, out = propose(tmp_path, "--crypto-suite", "sm2-sm3", "--remove-validator", new.hex())
    assert cli(["governance", "approve", str(out), "--key", str(sm2_validators[0])]) == 0
    data = json.loads(out.read_text())
    data["approvals"][0]["signature"] = "00" * 64
    out.write_text(json.dumps(data))
    with pytest.raises(ProposalError, match="does not verify"):
        ProposalFile.load(out)
    del data["crypto_suite"]  # read as Ed25519: a 65-byte key is not one
    out.write_text(json.dumps(data))
    with pytest.raises(ProposalError, match="65-byte key is not a ed25519-sha256 key"):
        ProposalFile.load(out)


def test_a_key_of_another_suite_is_refused_in_a_proposal(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out = propose(tmp_path, "--crypto-suite", "sm2-sm3", "--remove-validator", "ab" * 32)
    assert code == 2 and not out.exists()
    assert "32-byte key is not a sm2-sm3 key" in capsys.readouterr().err


def test_approval_verification_per_suite(sm2_validators: list[Path]) -> None:
    import nacl.signing

    raw = b"a proposal"
    ed = nacl.signing.SigningKey.generate()
    a = approve(raw, ed)
    assert approval_verifies(raw, a.validator, a.signature)
    assert not approval_verifies(raw + b"!", a.validator, a.signature)
    s = approve(raw, signer(sm2_validators[0]))
    assert len(s.validator) == 65 and approval_verifies(raw, s.validator, s.signature, SM2)
    assert not approval_verifies(raw, s.validator, s.signature)  # not an Ed25519 approval
    assert not approval_verifies(raw + b"!", s.validator, s.signature, SM2)


def test_add_node_on_an_sm2_sm3_testnet_writes_sm2_keys(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "net"
    init = ["testnet", "init", "--out", str(root), "--channels", "license"]
    assert cli([*init, "--crypto-suite", "sm2-sm3"]) == 0
    capsys.readouterr()
    assert cli(["testnet", "add-node", str(root)]) == 0
    config = load_config(root / "human-resources" / "config.toml")
    genesis = load_genesis(root / "genesis" / "license.json", config.chain_id, "license")
    assert {p.public_key for p in config.peers} == {key for _, key in genesis.validators}
    seed = bytes.fromhex(config.key_file.read_text().strip())
    public = public_key_of(seed, "sm2-sm3")
    assert len(public) == 65 and f"validator key {public.hex()}" in capsys.readouterr().out
    assert config.department_key_file is not None
