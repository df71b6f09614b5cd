"""The governance CLI without a network: proposal files (propose, approve), input
validation with clear errors, the tx `submit` builds (as the node and the core read it),
and `testnet add-node`'s keys, certificate and config."""

from __future__ import annotations

import json
from pathlib import Path

import nacl.signing
import pytest
from cryptography import x509

from chains.governance import GOV_VALIDATORS, GOV_WRITE_POLICY
from cli.governance import Outcome
from cli.main import main as cli
from cli.proposal_file import ProposalError, ProposalFile, make_proposal
from cli.testnet_files import write_key
from consensus.config import ConsensusConfig
from consensus.crypto import Ed25519Verifier
from consensus.membership import Membership, decide
from node.config import load_config
from node.governance import read_governance
from node.tls import VALIDATOR_URI_PREFIX
from protos import consensus_pb2 as pb

NEW = bytes(range(32))


@pytest.fixture
def validators(tmp_path: Path) -> list[Path]:
    """Four validator key files."""
    paths = [tmp_path / "keys" / f"v{i}.key" for i in range(4)]
    for p in paths:
        write_key(p)
    return paths


def signing(path: Path) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(bytes.fromhex(path.read_text().strip()))


def propose(tmp_path: Path, *change: str, sequence: str = "3") -> tuple[int, Path]:
    out = tmp_path / "p.json"
    args = ["governance", "propose", "--channel", "license", "--sequence", sequence]
    return cli([*args, *change, "--out", str(out)]), out


def test_propose_writes_the_exact_proposal_bytes_and_a_summary(tmp_path: Path) -> None:
    code, out = propose(tmp_path, "--add-validator", NEW.hex(), "--address", "10.0.0.5:7050")
    assert code == 0
    data = json.loads(out.read_text())
    assert set(data) == {"chain_id", "channel", "summary", "proposal", "approvals"}
    proposal = pb.GovernanceProposal.FromString(bytes.fromhex(data["proposal"]))
    assert (proposal.chain_id, proposal.channel, proposal.sequence) == (
        "govchain-testnet",
        "license",
        3,
    )
    assert proposal.add_validator == pb.ValidatorAdd(public_key=NEW, address="10.0.0.5:7050")
    assert data["summary"].startswith(f"add validator {NEW.hex()} at 10.0.0.5:7050")
    assert data["approvals"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--add-validator", "zz" * 32, "--address", "h:1"], "--add-validator: not hex"),
        (["--add-validator", "ab" * 31, "--address", "h:1"], "SM2), not 31"),
        (["--add-validator", NEW.hex()], "needs --address HOST:PORT"),
        (["--add-validator", NEW.hex(), "--address", "nohost"], "expected host:port"),
        (["--add-validator", NEW.hex(), "--address", "h:70000"], "expected host:port"),
        (["--remove-validator", NEW.hex(), "--address", "h:1"], "goes with --add-validator"),
        (["--remove-validator", "ab"], "SM2), not 1"),
        (["--replace-validator", NEW.hex()], "goes with --with NEW"),
        (["--remove-validator", NEW.hex(), "--with", NEW.hex()], "goes with --with NEW"),
        (["--replace-validator", NEW.hex(), "--with", NEW.hex()], "--with needs --address"),
        (["--replace-validator", "ab", "--with", NEW.hex(), "--address", "h:1"], "not 1"),
    ],
)
def test_propose_refuses_bad_input_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture, change: list[str], message: str
) -> None:
    code, out = propose(tmp_path, *change)
    assert code == 2 and not out.exists()
    assert message in capsys.readouterr().err


def test_write_policy_proposals_are_validated_and_canonical(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad.json"
    for text, why in (("{not json", "invalid"), ('{"*": "department"}', "list of role names")):
        bad.write_text(text)
        assert propose(tmp_path, "--write-policy", str(bad))[0] == 2
        assert why in capsys.readouterr().err
    good = tmp_path / "good.json"
    good.write_text('{\n  "kv.put": ["department"],  "*": ["*"]\n}\n')
    code, out = propose(tmp_path, "--write-policy", str(good))
    assert code == 0
    pf = ProposalFile.load(out)
    assert pf.proposal.write_policy == b'{"*":["*"],"kv.put":["department"]}'
    assert pf.tx_type == GOV_WRITE_POLICY


def test_propose_needs_a_node_or_a_sequence(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "p.json"
    args = ["governance", "propose", "--channel", "catalog", "--remove-validator", NEW.hex()]
    assert cli([*args, "--out", str(out)]) == 2
    assert "give --sequence" in capsys.readouterr().err
    with pytest.raises(ProposalError, match="unknown channel"):
        make_proposal("c", "tax", 0, remove=NEW)
    with pytest.raises(ProposalError, match="exactly one change"):
        make_proposal("c", "license", 0, remove=NEW, policy=b"{}")
    with pytest.raises(ProposalError, match="never negative"):
        make_proposal("c", "license", -1, remove=NEW)


def test_approve_adds_or_replaces_and_never_prints_the_key(
    tmp_path: Path, validators: list[Path], capsys: pytest.CaptureFixture
) -> None:
    _, out = propose(tmp_path, "--remove-validator", NEW.hex())
    data = json.loads(out.read_text())
    data["summary"] = "something harmless"  # a forged summary is never what is shown
    out.write_text(json.dumps(data))
    capsys.readouterr()
    for path in (validators[0], validators[1], validators[0]):
        assert cli(["governance", "approve", str(out), "--key", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "something harmless" not in printed
    assert f"remove validator {NEW.hex()} from channel 'license'" in printed
    assert "replaced the approval" in printed
    assert all(p.read_text().strip() not in printed for p in validators)
    pf = ProposalFile.load(out)
    assert list(pf.approvals) == [bytes(signing(p).verify_key) for p in validators[:2]]
    assert json.loads(out.read_text())["summary"] == pf.summary


def test_a_changed_proposal_or_a_bad_key_file_is_refused(
    tmp_path: Path, validators: list[Path], capsys: pytest.CaptureFixture
) -> None:
    _, out = propose(tmp_path, "--remove-validator", NEW.hex())
    assert cli(["governance", "approve", str(out), "--key", str(validators[0])]) == 0
    data = json.loads(out.read_text())
    other = make_proposal("govchain-testnet", "license", 3, remove=bytes(32))
    data["proposal"] = other.SerializeToString().hex()
    out.write_text(json.dumps(data))
    assert cli(["governance", "approve", str(out), "--key", str(validators[1])]) == 2
    assert "does not verify" in capsys.readouterr().err
    data["channel"] = "catalog"
    out.write_text(json.dumps(data))
    with pytest.raises(ProposalError, match="differs from the proposal's"):
        ProposalFile.load(out)
    secret = tmp_path / "bad.key"
    secret.write_text("not-a-key-but-secret-material")
    _, fresh = propose(tmp_path, "--remove-validator", NEW.hex())
    assert cli(["governance", "approve", str(fresh), "--key", str(secret)]) == 2
    err = capsys.readouterr().err
    assert "key file is not hex" in err and "secret-material" not in err


def test_the_submitted_tx_is_what_the_node_and_the_core_accept(validators: list[Path]) -> None:
    keys = [signing(p) for p in validators]
    public = tuple(bytes(k.verify_key) for k in keys)
    pf = ProposalFile.new(make_proposal("net", "license", 0, add=(NEW, "h:7050")))
    for k in keys[:3]:
        pf.add_approval(k)
    raw = pf.tx(keys[0], valid_until_height=1000, nonce=1)
    gtx = read_governance(raw, "net", "license", 64 << 10)
    assert gtx is not None and not gtx.problem and pf.tx_type == GOV_VALIDATORS
    cfg = ConsensusConfig(
        channel="license", validators=public, checkpoint_interval_blocks=4, log_window_blocks=8
    )
    membership, why = decide(Membership.genesis(public), gtx, 5, cfg, Ed25519Verifier())
    assert why == "" and membership.epochs[-1].validators == (*public, NEW)
    short = ProposalFile(pf.raw, pf.proposal, dict(list(pf.approvals.items())[:2]))
    gtx = read_governance(short.tx(keys[0], 1000, 2), "net", "license", 64 << 10)
    assert gtx is not None
    assert decide(Membership.genesis(public), gtx, 5, cfg, Ed25519Verifier())[1] == (
        "2 approvals, 3 of 4 validators needed"
    )


def test_outcomes_read_as_the_operator_needs_them() -> None:
    assert Outcome(0, "", 7, 17).describe() == "accepted at height 7; new set from height 17"
    assert Outcome(0, "", 7).describe() == "accepted at height 7"
    assert Outcome(6, "not a validator", 7).describe() == "refused at height 7: not a validator"
    assert Outcome(3, "valid until 5", 7).describe() == "failed at height 7: EXPIRED valid until 5"


@pytest.mark.parametrize("insecure", [False, True])
def test_add_node_makes_keys_certificate_and_config(tmp_path: Path, insecure: bool) -> None:
    root = tmp_path / "net"
    init = ["testnet", "init", "--validators", "4", "--out", str(root), "--base-port", "7050"]
    init += ["--channels", "license", "catalog"] + (["--insecure"] if insecure else [])
    assert cli(init) == 0
    assert cli(["testnet", "add-node", str(root)]) == 0
    config = load_config(root / "human-resources" / "config.toml")
    assert (config.listen, config.metrics_listen) == ("127.0.0.1:7054", "127.0.0.1:9154")
    assert config.channels == ("license", "catalog") and config.chain_id == "govchain-testnet"
    assert [p.address for p in config.peers] == [f"127.0.0.1:{7050 + i}" for i in range(4)]
    others = {p.parent.name: p.parent for p in root.glob("*/config.toml")}
    for peer in config.peers:
        key_file = load_config(others[peer.node_id] / "config.toml").key_file
        assert peer.public_key == bytes(signing(key_file).verify_key)
    assert (root / "nodes.txt").read_text().splitlines()[-1] == "human-resources 127.0.0.1:7054"
    assert config.department_key_file is not None and config.department_key_file.exists()
    before = {p.name: p.read_bytes() for p in (root / "genesis").iterdir()}
    assert (config.tls is None) == insecure
    if config.tls is not None:
        cert = x509.load_pem_x509_certificate(config.tls.cert.read_bytes())
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        public = bytes(signing(config.key_file).verify_key).hex()
        assert VALIDATOR_URI_PREFIX + public in uris.get_values_for_type(
            x509.UniformResourceIdentifier
        )
    assert cli(["testnet", "add-node", "--dir", str(root), "--name", "health"]) == 0
    assert load_config(root / "health" / "config.toml").listen == "127.0.0.1:7055"
    assert cli(["testnet", "add-node", str(root), "--name", "health"]) == 2  # exists
    assert {p.name: p.read_bytes() for p in (root / "genesis").iterdir()} == before


def test_a_replacement_proposal_is_one_change_the_core_applies_in_place(
    tmp_path: Path, validators: list[Path]
) -> None:
    keys = [signing(p) for p in validators]
    public = tuple(bytes(k.verify_key) for k in keys)
    old = public[1].hex()
    replace = ["--replace-validator", old, "--with", NEW.hex(), "--address", "10.0.0.6:7050"]
    code, out = propose(tmp_path, *replace, sequence="0")
    assert code == 0
    pf = ProposalFile.load(out)
    assert pf.summary.startswith(f"replace validator {old} by {NEW.hex()} at 10.0.0.6:7050")
    assert pf.tx_type == GOV_VALIDATORS
    for k in keys[:3]:
        pf.add_approval(k)
    gtx = read_governance(pf.tx(keys[0], 1000, 1), "govchain-testnet", "license", 64 << 10)
    assert gtx is not None and not gtx.problem
    cfg = ConsensusConfig(
        channel="license", validators=public, checkpoint_interval_blocks=4, log_window_blocks=8
    )
    membership, why = decide(Membership.genesis(public), gtx, 5, cfg, Ed25519Verifier())
    assert why == ""
    assert membership.epochs[-1].validators == (public[0], NEW, public[2], public[3])
