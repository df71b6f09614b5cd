"""The last hashes a pull and a case make follow the chain's crypto suite (issue 14 §1):
an access record's `request_hash` (and the `access_id` made from it), an approval rule's
`rule_hash`, and the hall's evidence hashes are SM3 on an `sm2-sm3` chain, and on
`ed25519-sha256` (or with no suite) byte for byte the SHA-256 they always were.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from chains.service import get_result, get_rule
from client.hall import Network
from client.pull_request import access_id, request_bytes, request_hash
from crypto import suite_by_name
from protos import datashare_pb2 as ds
from tests.unit import service_permit
from tests.unit.test_service_instant_approval import submit, with_rule

SM2 = suite_by_name("sm2-sm3")
ED = suite_by_name("ed25519-sha256")
MATERIAL = ds.MaterialRequest(name="营业执照", license_id="L-1", items=["BL01/uscc"])
REQUEST = ds.PullRequest(
    grant_id="G-1",
    requester="agriculture",
    case_number="C-1",
    materials=[MATERIAL],
    signer=b"\x04" * 65,
    signature=b"\x01" * 64,
)


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def test_a_request_hash_is_sha256_by_default_and_sm3_on_sm2_sm3() -> None:
    data = request_bytes(REQUEST) + MATERIAL.SerializeToString(deterministic=True)
    assert request_hash(REQUEST, MATERIAL) == hashlib.sha256(data).digest()
    assert request_hash(REQUEST, MATERIAL, ED) == hashlib.sha256(data).digest()
    assert request_hash(REQUEST, MATERIAL, SM2) == sm3(data) != hashlib.sha256(data).digest()
    signed_again = ds.PullRequest()
    signed_again.CopyFrom(REQUEST)
    signed_again.signature = b"\x02" * 64  # SM2 signs anew each time: the hash ignores it
    assert request_hash(signed_again, MATERIAL, SM2) == request_hash(REQUEST, MATERIAL, SM2)


def test_an_access_id_is_made_from_the_request_hash_and_the_outcome() -> None:
    digest = request_hash(REQUEST, MATERIAL, SM2)
    assert access_id(digest, "granted") == f"acc-{digest.hex()[:24]}-g"
    assert access_id(digest, "denied").endswith("-d")


@pytest.mark.parametrize(
    ("suite", "hash_"), [(None, lambda d: hashlib.sha256(d).digest()), (SM2, sm3)]
)
def test_a_rule_hash_is_the_channels_hash(monkeypatch, suite, hash_) -> None:  # type: ignore[no-untyped-def]
    if suite is not None:  # the executor hands the application its channel's hash
        monkeypatch.setattr(service_permit, "CTX", replace(service_permit.CTX, hashing=suite))
    ledger = with_rule()
    submit(ledger, "C-1")
    rule = get_rule(ledger, service_permit.PERMIT)
    result = get_result(ledger, "C-1")
    assert rule is not None and result is not None and result.result == "approved"
    assert result.rule_hash == hash_(rule.SerializeToString(deterministic=True))


def test_the_halls_evidence_hash_is_the_networks_suite_hash() -> None:
    data = "我同意 consent text".encode()
    default = Network("c", {"a": "127.0.0.1:1"})
    assert default.hash(data) == hashlib.sha256(data).digest()
    assert replace(default, crypto_suite="sm2-sm3").hash(data) == sm3(data)
