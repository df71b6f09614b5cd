"""Evidence bundles: collected through the SDK from a node's answers, checked offline, and
every tampering rejected by the check it breaks, with a reason that says what is wrong.

The "node" is a stub answering GetTransaction, GetBlock, GetState and GetStatus from one
real block: three txs (the RecordAccess in the middle, so its proof has siblings), real
Ed25519 keys for the four validators, the provider and the requester, and a commit
certificate of three of the four validators (a quorum).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nacl.signing
import pytest

from chains.tx import encode_tx
from cli.main import main as govchain
from client.evidence import collect_evidence, read_evidence, write_evidence
from client.evidence_verify import verify_evidence
from client.kiosk import sign_request
from client.pull_request import request_bytes
from client.state import MEMBERSHIP_KEY
from consensus.blocks import make_block
from consensus.config import ConsensusConfig
from consensus.crypto import Ed25519Signer
from consensus.hashing import merkle_proof, sha256
from consensus.membership import Membership
from consensus.messages import sign, vote
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from protos import datashare_pb2 as ds
from protos import government_pb2 as government

CHAIN = "govchain-test"
CHANNEL = "authorization"
HEIGHT = 7
VALIDATORS = [Ed25519Signer(bytes([i + 1]) * 32) for i in range(4)]
KEYS = tuple(v.public_key for v in VALIDATORS)
PROVIDER = nacl.signing.SigningKey(b"\x11" * 32)
REQUESTER = nacl.signing.SigningKey(b"\x22" * 32)
MATERIAL = "营业执照 business license"


def pull_request() -> ds.PullRequest:
    m = ds.MaterialRequest(
        name=MATERIAL, license_id="BL01-market-regulation-2024-000123", items=["BL01/name"]
    )
    request = ds.PullRequest(
        case_number="C-1", grant_id="g-1", requester="agriculture", materials=[m]
    )
    return sign_request(request, REQUESTER)


def access_tx(request: ds.PullRequest) -> tuple[bytes, str]:
    m = request.materials[0]
    digest = sha256(request_bytes(request) + m.SerializeToString(deterministic=True))
    access_id = f"acc-{digest.hex()[:24]}-g"
    record = government.AccessRecord(
        access_id=access_id,
        grant_id=request.grant_id,
        requester=request.requester,
        provider="market-regulation",
        items=list(m.items),
        request_hash=digest,
        outcome="granted",
    )
    body = api.TxBody(
        chain_id=CHAIN,
        channel=CHANNEL,
        type="authorization.record_access",
        payload=record.SerializeToString(deterministic=True),
        nonce=5,
    )
    return encode_tx(body, PROVIDER), access_id


class Node:
    """A node's client API over one certified block (what collect_evidence asks)."""

    def __init__(self, membership: pb.MembershipState | None = None) -> None:
        self.request = pull_request()
        tx, self.access_id = access_tx(self.request)
        self.txs = [b"other tx 0", tx, b"other tx 2"]
        cfg = ConsensusConfig(channel=CHANNEL, validators=KEYS)
        self.info = make_block(cfg, HEIGHT, 1, b"\x05" * 32, self.txs, KEYS[1], 1_700_000_000_000)
        commits = [
            sign(VALIDATORS[i], CHANNEL, "commit", vote(1, HEIGHT, self.info.digest)).to_pb()
            for i in (0, 2, 3)
        ]
        self.certified = pb.CertifiedBlock(block=self.info.block, commits=commits)
        self.membership = membership

    def GetTransaction(self, request: api.GetTransactionRequest, timeout: float):
        assert request.tx_id == sha256(self.txs[1]) and request.channel == CHANNEL
        return api.GetTransactionResponse(
            tx=self.txs[1],
            height=HEIGHT,
            index=1,
            result=api.TxResult(code=0),
            block_header=self.info.block.header,
            proof=api.MerkleProof(index=1, leaf_count=3, siblings=merkle_proof(self.txs, 1)),
        )

    def GetBlock(self, request: api.GetBlockRequest, timeout: float):
        assert request.height == HEIGHT
        return api.GetBlockResponse(height=HEIGHT, hash=self.info.digest, block=self.certified)

    def GetState(self, request: api.GetStateRequest, timeout: float):
        assert request.key == MEMBERSHIP_KEY
        if self.membership is None:
            return api.GetStateResponse(found=False)
        raw = self.membership.SerializeToString(deterministic=True)
        return api.GetStateResponse(found=True, value=raw)

    def GetStatus(self, request: api.GetStatusRequest, timeout: float):
        return api.GetStatusResponse(
            channels=[api.ChannelStatus(channel=CHANNEL, validators=list(KEYS))]
        )

    def event(self) -> ds.PullEvent:
        return ds.PullEvent(
            material=MATERIAL,
            status=ds.OBTAINED,
            access_id=self.access_id,
            access_tx_id=sha256(self.txs[1]),
            license_id=self.request.materials[0].license_id,
        )


def collect(node: Node, genesis_dir: Path | None = None) -> dict:
    return collect_evidence(
        node, CHAIN, node.request, node.event(), "market-regulation", genesis_dir
    )


@pytest.fixture
def bundle() -> dict:
    return collect(Node())


def failures(bundle: dict) -> dict[str, str]:
    return {c.name: c.detail for c in verify_evidence(bundle) if not c.ok}


def test_a_collected_bundle_passes_every_check(bundle: dict) -> None:
    checks = verify_evidence(bundle)
    assert [c.name for c in checks] == [
        "format",
        "tx decodes",
        "tx id",
        "block header",
        "merkle proof",
        "block hash",
        "validator set",
        "commit certificate",
        "access record",
    ]
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert bundle["validators"]["source"] == "node"


def test_the_validator_set_from_a_genesis_file_is_in_the_bundle_with_its_hash(
    tmp_path: Path,
) -> None:
    genesis = json.dumps(
        {
            "chain_id": CHAIN,
            "channel": CHANNEL,
            "validators": [{"node_id": f"n{i}", "public_key": k.hex()} for i, k in enumerate(KEYS)],
        }
    ).encode()
    (tmp_path / f"{CHANNEL}.json").write_bytes(genesis)
    b = collect(Node(), tmp_path)
    assert b["validators"]["genesis_sha256"] == hashlib.sha256(genesis).hexdigest()
    assert failures(b) == {}
    b["validators"]["genesis"] = b["validators"]["genesis"].replace(KEYS[3].hex(), "ab" * 32)
    assert "not the genesis file's validators" in failures(b)["validator set"]


def test_the_validator_set_from_the_membership_is_the_epoch_of_the_height() -> None:
    other = Ed25519Signer(b"\x09" * 32).public_key
    history = Membership.genesis((other, *KEYS[1:])).to_pb()
    history.epochs.add(first_height=5, validators=list(KEYS), addresses=[""] * 4)
    b = collect(Node(membership=history))
    assert b["validators"]["source"] == "membership" and failures(b) == {}
    b["validators"]["keys"][0] = other.hex()  # the set of the earlier epoch
    assert "not the membership's set of height 7" in failures(b)["validator set"]


def flip(hex_text: str, at: int) -> str:
    raw = bytearray.fromhex(hex_text)
    raw[at] ^= 0x01
    return raw.hex()


def test_a_changed_tx_byte_is_rejected(bundle: dict) -> None:
    bundle["tx"]["envelope"] = flip(bundle["tx"]["envelope"], -1)  # in the signer key
    found = failures(bundle)
    assert "signature does not verify" in found["tx decodes"]
    assert "not the stated id" in found["tx id"]
    assert "does not reach the header's tx_root" in found["merkle proof"]


def test_a_changed_proof_sibling_is_rejected(bundle: dict) -> None:
    bundle["proof"]["siblings"][0] = flip(bundle["proof"]["siblings"][0], 0)
    found = failures(bundle)
    assert set(found) == {"merkle proof"}
    assert "leaf 1 of 3 does not reach the header's tx_root" in found["merkle proof"]


def changed_header(bundle: dict) -> bytes:
    header = pb.BlockHeader()
    header.ParseFromString(bytes.fromhex(bundle["block"]["header"]))
    header.timestamp_ms += 1
    return header.SerializeToString(deterministic=True)


def test_a_changed_header_field_is_rejected(bundle: dict) -> None:
    forged = changed_header(bundle)
    bundle["block"]["header"] = forged.hex()
    assert "not the stated" in failures(bundle)["block hash"]
    # ...and restating the hash does not help: the commits vote for the real block
    bundle["block"]["hash"] = sha256(forged).hex()
    found = failures(bundle)
    assert set(found) == {"commit certificate"}
    assert "commit 0: votes for height 7 digest" in found["commit certificate"]


def test_a_changed_commit_signature_is_rejected(bundle: dict) -> None:
    commit = bundle["block"]["commits"][1]
    commit["signature"] = flip(commit["signature"], 5)
    found = failures(bundle)
    assert set(found) == {"commit certificate"}
    assert (
        f"commit 1: the signature of validator {KEYS[2].hex()[:16]}" in found["commit certificate"]
    )


def test_a_certificate_below_quorum_is_rejected(bundle: dict) -> None:
    del bundle["block"]["commits"][2]
    assert failures(bundle) == {
        "commit certificate": "2 commits, fewer than a quorum (3 of 4 validators)"
    }


def test_a_repeated_commit_is_rejected(bundle: dict) -> None:
    bundle["block"]["commits"][2] = bundle["block"]["commits"][0]
    assert "signed twice" in failures(bundle)["commit certificate"]


def test_a_swapped_validator_is_rejected(bundle: dict) -> None:
    bundle["validators"]["keys"][2] = Ed25519Signer(b"\x09" * 32).public_key.hex()
    assert failures(bundle) == {
        "commit certificate": "commit 1: its sender is not in the validator set"
    }


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("case_number", "C-2", "case_number: record says 'C-1', claim says 'C-2'"),
        ("material", "other", "the pull request asks for no material 'other'"),
        ("provider", "health", "provider: record says 'market-regulation'"),
        ("outcome", "denied", "outcome: record says 'granted'"),
    ],
)
def test_a_claim_the_record_does_not_support_is_rejected(
    bundle: dict, field: str, value: str, reason: str
) -> None:
    bundle["claim"][field] = value
    assert reason in failures(bundle)["access record"]


def test_a_changed_pull_request_is_rejected(bundle: dict) -> None:
    request = ds.PullRequest()
    request.ParseFromString(bytes.fromhex(bundle["pull_request"]))
    request.timestamp_ms += 1  # another request: its hash is not the record's
    bundle["pull_request"] = request.SerializeToString(deterministic=True).hex()
    assert "request_hash" in failures(bundle)["access record"]


def test_what_is_not_a_bundle_fails_the_format_check() -> None:
    for thing in ({}, [], {"format": "govchain-evidence", "version": 1}):
        (check,) = verify_evidence(thing)
        assert check.name == "format" and not check.ok


def test_the_command_verifies_offline_and_rejects_tampering(
    bundle: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evidence.json"
    write_evidence(bundle, path)
    assert read_evidence(path) == bundle
    assert govchain(["verify-evidence", str(path)]) == 0
    out = capsys.readouterr().out
    assert "VERIFIED" in out and out.count("ok  ") == 9
    del bundle["block"]["commits"][0]
    write_evidence(bundle, path)
    assert govchain(["verify-evidence", str(path)]) == 1
    assert "FAIL commit certificate" in capsys.readouterr().out
    path.write_text('{"hello": 1}')
    assert govchain(["verify-evidence", str(path)]) == 1
    assert "not an evidence bundle" in capsys.readouterr().err
    path.write_text("garbage")
    assert govchain(["verify-evidence", str(path)]) == 1
    assert "is not JSON" in capsys.readouterr().err
