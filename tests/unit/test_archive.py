"""Block archives: written in chunks with a manifest, verified offline; each kind of damage
(a tampered block, a broken chain link, a forged or short certificate, an altered chunk,
the wrong genesis) is refused with its reason, never a crash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nacl.signing
import pytest

from chains.governance import GOV_VALIDATORS, approve
from chains.tx import encode_tx
from cli.main import main as cli
from client.archive import ArchiveError, read_manifest, write_archive
from client.archive_verify import verify_archive
from consensus.blocks import make_block
from consensus.config import ConsensusConfig
from consensus.hashing import sha256
from consensus.messages import sign, vote
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from sim.crypto import make_signers, make_tx

CHANNEL = "license"
SIGNERS = make_signers(4, ed25519=True)
OUTSIDERS = make_signers(8, ed25519=True)[4:]
GENESIS = json.dumps(
    {
        "chain_id": "archive-test",
        "channel": CHANNEL,
        "validators": [
            {"node_id": f"n{i}", "public_key": s.public_key.hex()} for i, s in enumerate(SIGNERS)
        ],
        "consensus": {"checkpoint_interval_blocks": 2, "log_window_blocks": 4},
    }
).encode()
CFG = ConsensusConfig(
    channel=CHANNEL,
    validators=tuple(s.public_key for s in SIGNERS),
    genesis_hash=sha256(GENESIS),
    checkpoint_interval_blocks=2,
    log_window_blocks=4,
)
HEADER = {
    "chain_id": "archive-test",
    "channel": CHANNEL,
    "crypto_suite": "ed25519-sha256",
    "genesis_hash": CFG.genesis_hash.hex(),
}
COUNT = 10


def event(height: int, parent: bytes, signers=SIGNERS[:3], salt: int = 0) -> api.BlockEvent:
    txs = [make_tx(salt, height * 10 + i) for i in range(2)]
    info = make_block(CFG, height, 0, parent, txs, SIGNERS[0].public_key, 1000 + height)
    commits = [sign(s, CHANNEL, "commit", vote(0, height, info.digest)).to_pb() for s in signers]
    results = api.BlockResults(
        results=[api.TxResult(code=0)] * 2, state_root=sha256(b"%d" % height)
    )
    certified = pb.CertifiedBlock(block=info.block, commits=commits)
    return api.BlockEvent(height=height, hash=info.digest, block=certified, results=results)


def chain(count: int = COUNT) -> list[api.BlockEvent]:
    out: list[api.BlockEvent] = []
    for height in range(1, count + 1):
        out.append(event(height, out[-1].hash if out else CFG.genesis_hash))
    return out


def archived(tmp_path: Path, events: list[api.BlockEvent]) -> Path:
    out = tmp_path / "archive"
    write_archive(out, HEADER, iter(events), chunk_blocks=4)
    return out


def problem(tmp_path: Path, events: list[api.BlockEvent], genesis: bytes = GENESIS) -> str:
    _done, why = verify_archive(archived(tmp_path, events), genesis)
    assert why is not None
    return why


def test_an_intact_archive_verifies(tmp_path: Path) -> None:
    out = archived(tmp_path, chain())
    manifest = read_manifest(out)
    assert (manifest["from_height"], manifest["to_height"]) == (1, COUNT)
    assert [c["from_height"] for c in manifest["chunks"]] == [1, 5, 9]
    assert verify_archive(out, GENESIS) == (COUNT, None)


def test_a_tampered_block_is_refused(tmp_path: Path) -> None:
    events = chain()
    events[4].block.block.txs[0] = make_tx(7, 7)  # the chunk hash is recomputed: content only
    why = problem(tmp_path, events)
    assert why.startswith("block 5: tampered: the txs do not hash")


def test_a_tampered_header_is_refused(tmp_path: Path) -> None:
    events = chain()
    header = pb.BlockHeader.FromString(events[2].block.block.header)
    header.timestamp_ms += 1
    events[2].block.block.header = header.SerializeToString(deterministic=True)
    assert problem(tmp_path, events).startswith("block 3: tampered: the header hashes to")


def test_a_broken_chain_link_is_refused(tmp_path: Path) -> None:
    events = chain()
    events[6] = event(7, sha256(b"another parent"))  # properly certified, wrong parent
    assert problem(tmp_path, events).startswith("block 7: broken chain: its parent")


def test_a_forged_certificate_is_refused(tmp_path: Path) -> None:
    events = chain()
    events[3] = event(4, events[2].hash, signers=OUTSIDERS[:3])
    why = problem(tmp_path, events)
    assert why.startswith("block 4: bad commit certificate: commit 0: its sender is not in")


def test_a_short_certificate_is_refused(tmp_path: Path) -> None:
    events = chain()
    events[0] = event(1, CFG.genesis_hash, signers=SIGNERS[:2])
    why = problem(tmp_path, events)
    assert why.startswith("block 1: bad commit certificate: 2 commits, fewer than a quorum")


def test_an_altered_chunk_file_is_refused(tmp_path: Path) -> None:
    out = archived(tmp_path, chain())
    chunk = out / read_manifest(out)["chunks"][1]["file"]
    data = bytearray(chunk.read_bytes())
    data[-1] ^= 1
    chunk.write_bytes(bytes(data))
    done, why = verify_archive(out, GENESIS)
    assert done == 4 and why is not None and "SHA-256" in why and chunk.name in why


def test_a_missing_block_is_refused(tmp_path: Path) -> None:
    events = chain()
    del events[5]
    assert problem(tmp_path, events).startswith("block 6: the record is of height 7")


def test_another_genesis_is_refused(tmp_path: Path) -> None:
    other = GENESIS.replace(b'"n0"', b'"n9"')
    assert "the genesis file hashes to" in problem(tmp_path, chain(), other)


def test_a_directory_that_is_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="not an archive"):
        read_manifest(tmp_path)
    done, why = verify_archive(tmp_path, GENESIS)
    assert done == 0 and why is not None and "no manifest.json" in why


def test_an_archive_goes_into_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    with pytest.raises(ArchiveError, match="not empty"):
        write_archive(tmp_path, HEADER, iter(chain(1)))


def test_the_cli_exits_0_only_for_an_archive_that_verifies(tmp_path: Path, capsys) -> None:
    genesis = tmp_path / "license.json"
    genesis.write_bytes(GENESIS)
    good = archived(tmp_path, chain())
    assert cli(["archive", "verify", str(good), "--genesis", str(genesis)]) == 0
    assert "VERIFIED: blocks 1..10" in capsys.readouterr().out
    events = chain()
    events[6] = event(7, sha256(b"another parent"))
    bad = tmp_path / "bad"
    write_archive(bad, HEADER, iter(events))
    assert cli(["archive", "verify", str(bad), "--genesis", str(genesis)]) == 1
    assert "NOT VERIFIED after 6 block(s): block 7: broken chain" in capsys.readouterr().out


def _governance_tx() -> bytes:
    """Validator 0 replaced by an outsider, approved by validators 0-2."""
    replacement = pb.ValidatorAdd(public_key=OUTSIDERS[0].public_key, address="127.0.0.1:7009")
    proposal = pb.GovernanceProposal(
        chain_id="archive-test",
        channel=CHANNEL,
        sequence=0,
        replace_validator=pb.ValidatorReplace(
            old_key=SIGNERS[0].public_key, replacement=replacement
        ),
    ).SerializeToString(deterministic=True)
    keys = [nacl.signing.SigningKey(hashlib.sha256(b"validator-%d" % i).digest()) for i in range(3)]
    assert [bytes(k.verify_key) for k in keys] == [s.public_key for s in SIGNERS[:3]]
    payload = pb.GovernanceTx(proposal=proposal, approvals=[approve(proposal, k) for k in keys])
    body = api.TxBody(
        chain_id="archive-test",
        channel=CHANNEL,
        type=GOV_VALIDATORS,
        payload=payload.SerializeToString(deterministic=True),
        nonce=1,
    )
    return encode_tx(body, keys[0])


def governed_chain(new_set_signs: bool) -> list[api.BlockEvent]:
    """Block 2 carries the change; from height 7 (switch height 6 + 1: a log window of 4
    past block 2, rounded up to a checkpoint of 2) the new set signs, or the old one does."""
    new_set = [*OUTSIDERS[:1], *SIGNERS[1:3]]
    out: list[api.BlockEvent] = []
    for height in range(1, COUNT + 1):
        parent = out[-1].hash if out else CFG.genesis_hash
        signers = new_set if height >= 7 and new_set_signs else SIGNERS[:3]
        e = event(height, parent, signers=signers)
        if height == 2:
            txs = [_governance_tx()]
            info = make_block(CFG, 2, 0, parent, txs, SIGNERS[0].public_key, 1002)
            votes = [sign(s, CHANNEL, "commit", vote(0, 2, info.digest)).to_pb() for s in signers]
            e = api.BlockEvent(
                height=2,
                hash=info.digest,
                block=pb.CertifiedBlock(block=info.block, commits=votes),
                results=api.BlockResults(results=[api.TxResult(code=0)]),
            )
        out.append(e)
    return out


def test_certificates_are_checked_against_the_validator_set_history(tmp_path: Path) -> None:
    good = tmp_path / "good"
    write_archive(good, HEADER, iter(governed_chain(new_set_signs=True)), chunk_blocks=4)
    assert verify_archive(good, GENESIS) == (COUNT, None)
    # the old set no longer orders height 7: validator 0's commit is not a validator's
    why = problem(tmp_path, governed_chain(new_set_signs=False))
    assert why.startswith("block 7: bad commit certificate: commit 0: its sender is not in")
