"""A channel's crypto suite decides its signatures (issue 14 §1, the signature half): the
genesis names it (node.config), tx decoding holds keys and signatures to its lengths
(chains.tx), the node's batched verifier and tx checker verify through it
(node.verifier, node.tx_signatures), clients sign with its keys (client.connection), and
`testnet init --crypto-suite` writes its keys into genesis and configs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest

from chains.tx import TxError, decode_tx, encode_tx
from cli.testnet import cmd_testnet_init
from client.connection import load_signing_key
from client.txs import kv_put_tx
from crypto import SIGNATURE_SHAPES, SUITE_NAMES, SuiteSigner, suite_by_name
from node.config import (
    ConfigError,
    channels_suite,
    load_config,
    load_genesis,
    make_genesis,
)
from node.tls import validator_dns_name
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier
from protos import api_pb2 as api

CHAIN = "govchain-test"
CHANNEL = "license"
SM2 = suite_by_name("sm2-sm3")
SM2_CLIENT = SuiteSigner.from_seed(SM2, bytes(range(32)))
ED_CLIENT = nacl.signing.SigningKey(bytes(range(32)))


def sm2_put(nonce: int, signer: SuiteSigner = SM2_CLIENT) -> bytes:
    return kv_put_tx(signer, CHAIN, CHANNEL, b"k%d" % nonce, b"v", nonce=nonce)


def ed_put(nonce: int) -> bytes:
    return kv_put_tx(ED_CLIENT, CHAIN, CHANNEL, b"k%d" % nonce, b"v", nonce=nonce)


def write_genesis(path: Path, suite: str | None, key_bytes: int = 65) -> Path:
    data: dict[str, object] = {
        "chain_id": CHAIN,
        "channel": path.stem,
        "validators": [{"node_id": "a", "public_key": "04" * key_bytes}],
    }
    if suite is not None:
        data["crypto_suite"] = suite
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def sm2_verifier() -> Iterator[BatchVerifier]:
    v = BatchVerifier(threads=2, chunk_items=2, suite=SM2)
    yield v
    v.close()


# ------------------------------------------------------------------ genesis


def test_genesis_without_crypto_suite_is_ed25519_sha256(tmp_path: Path) -> None:
    g = load_genesis(write_genesis(tmp_path / "license.json", None, 32), CHAIN, "license")
    assert g.crypto_suite == "ed25519-sha256"


def test_genesis_names_sm2_sm3_with_65_byte_validator_keys(tmp_path: Path) -> None:
    g = load_genesis(write_genesis(tmp_path / "license.json", "sm2-sm3"), CHAIN, "license")
    assert g.crypto_suite == "sm2-sm3"
    assert len(g.validators[0][1]) == 65


def test_unknown_crypto_suite_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = write_genesis(tmp_path / "license.json", "rsa-md5")
    with pytest.raises(ConfigError, match=r"license\.json: `crypto_suite` 'rsa-md5'"):
        load_genesis(path, CHAIN, "license")


@pytest.mark.parametrize(("suite", "wrong_bytes"), [("sm2-sm3", 32), ("ed25519-sha256", 65)])
def test_validator_keys_must_be_the_suites_length(
    tmp_path: Path, suite: str, wrong_bytes: int
) -> None:
    path = write_genesis(tmp_path / "license.json", suite, wrong_bytes)
    with pytest.raises(ConfigError, match=r"validators\[0\]: public key must be"):
        load_genesis(path, CHAIN, "license")


def test_a_default_genesis_is_byte_for_byte_what_it_was() -> None:
    default = make_genesis(CHAIN, "license", [("a", bytes(32))], {})
    assert b"crypto_suite" not in default
    assert b'"crypto_suite": "sm2-sm3"' in make_genesis(
        CHAIN, "license", [("a", bytes(65))], {}, None, "sm2-sm3"
    )


def test_a_node_refuses_channels_on_different_suites(tmp_path: Path) -> None:
    write_genesis(tmp_path / "license.json", "sm2-sm3")
    write_genesis(tmp_path / "catalog.json", None, 32)
    config = argparse.Namespace(genesis_dir=tmp_path, chain_id=CHAIN, channels=("license",))
    assert channels_suite(config) == "sm2-sm3"  # type: ignore[arg-type]
    config.channels = ("license", "catalog")
    with pytest.raises(ConfigError, match="different `crypto_suite`s"):
        channels_suite(config)  # type: ignore[arg-type]


# ------------------------------------------------------------------ tx decoding


def test_signature_shapes_are_the_suites_own() -> None:
    assert set(SIGNATURE_SHAPES) == set(SUITE_NAMES)
    for name, shape in SIGNATURE_SHAPES.items():
        suite = suite_by_name(name)
        assert shape == (suite.public_key_bytes, suite.signature_bytes)


def test_an_sm2_signed_tx_decodes_on_an_sm2_channel_and_verifies() -> None:
    tx = decode_tx(sm2_put(1), CHAIN, 4096, SM2)
    assert tx.signer == SM2_CLIENT.public_key and len(tx.signer) == 65
    assert SM2.verify(tx.signer, tx.body_bytes, tx.signature)


@pytest.mark.parametrize(
    ("raw", "suite"),
    [(ed_put(1), "sm2-sm3"), (sm2_put(1), "ed25519-sha256")],
    ids=["ed25519-tx-on-sm2", "sm2-tx-on-ed25519"],
)
def test_a_tx_of_another_suite_is_malformed(raw: bytes, suite: str) -> None:
    with pytest.raises(TxError) as err:
        decode_tx(raw, CHAIN, 4096, suite_by_name(suite))
    assert err.value.status == api.MALFORMED
    assert decode_tx(raw, CHAIN, 4096).raw == raw  # no suite: any suite's shape passes


def test_sm2_signatures_are_randomised_and_each_verifies() -> None:
    a, b = sm2_put(7), sm2_put(7)
    assert a != b  # one body signed twice: two tx ids, as two Ed25519 keys would give
    for raw in (a, b):
        tx = decode_tx(raw, CHAIN, 4096, SM2)
        assert SM2.verify(tx.signer, tx.body_bytes, tx.signature)


def test_encode_tx_takes_a_suite_signer_and_a_nacl_key_alike() -> None:
    body = api.TxBody(chain_id=CHAIN, channel=CHANNEL, type="kv.put", nonce=1)
    ed = api.TxEnvelope.FromString(encode_tx(body, ED_CLIENT))
    assert ed.signer == bytes(ED_CLIENT.verify_key) and len(ed.signature) == 64


# ------------------------------------------------------------------ verification


def test_the_sm2_batch_verifier_fails_only_the_bad_and_foreign_items(
    sm2_verifier: BatchVerifier,
) -> None:
    good = (SM2_CLIENT.public_key, b"vote", SM2_CLIENT.sign(b"vote"))
    tampered = (good[0], b"other vote", good[2])
    ed = (bytes(ED_CLIENT.verify_key), b"vote", ED_CLIENT.sign(b"vote").signature)
    results = asyncio.run(sm2_verifier.verify_batch([good, tampered, ed]))
    assert results == [True, False, False]
    assert sm2_verifier.verify(*good) and sm2_verifier.cache_hits == 1
    assert not sm2_verifier.verify(*ed)


def test_the_tx_checker_of_an_sm2_channel_takes_sm2_txs_only(
    sm2_verifier: BatchVerifier,
) -> None:
    checker = NodeTxChecker(sm2_verifier, CHAIN, CHANNEL, 4096)
    assert checker.verify_txs([sm2_put(1), ed_put(2)]) == [True, False]
    decoded = checker.decode(sm2_put(3))
    assert asyncio.run(checker.verify_decoded([decoded])) == [True]


def test_the_default_verifier_is_the_libsodium_fast_path() -> None:
    v = BatchVerifier()
    try:
        ed = (bytes(ED_CLIENT.verify_key), b"m", ED_CLIENT.sign(b"m").signature)
        sm2 = (SM2_CLIENT.public_key, b"m", SM2_CLIENT.sign(b"m"))
        assert asyncio.run(v.verify_batch([ed, sm2])) == [True, False]
    finally:
        v.close()


# ------------------------------------------------------------------ keys and testnet


def test_a_key_file_loads_as_the_suites_signer(tmp_path: Path) -> None:
    path = tmp_path / "client.key"
    path.write_text(bytes(range(32)).hex() + "\n")
    signer = load_signing_key(path, suite="sm2-sm3")
    assert isinstance(signer, SuiteSigner)
    assert signer.public_key == SM2_CLIENT.public_key
    assert load_signing_key(path).verify_key == ED_CLIENT.verify_key  # type: ignore[union-attr]


def test_an_sm2_validator_key_gets_dns_labels_within_63_characters() -> None:
    name = validator_dns_name(SM2_CLIENT.public_key)
    assert all(len(label) <= 63 for label in name.split("."))
    assert "".join(name.split(".")[:5]) == SM2_CLIENT.public_key.hex()
    ed = bytes(ED_CLIENT.verify_key).hex()
    assert validator_dns_name(bytes(ED_CLIENT.verify_key)).startswith(f"{ed[:32]}.{ed[32:]}.")


def test_testnet_init_writes_the_suite_and_its_keys(tmp_path: Path) -> None:
    args = argparse.Namespace(
        out=tmp_path,
        force=False,
        hosts=None,
        validators=4,
        insecure=True,
        block_txs_max=100,
        channels=["license"],
        app="kv",
        chain_id=CHAIN,
        base_port=7050,
        metrics_base_port=0,
        crypto_suite="sm2-sm3",
    )
    assert cmd_testnet_init(args) == 0
    genesis = load_genesis(tmp_path / "genesis" / "license.json", CHAIN, "license")
    assert genesis.crypto_suite == "sm2-sm3"
    config = load_config(tmp_path / "public-security" / "config.toml")
    seed = bytes.fromhex((tmp_path / "keys" / "public-security.key").read_text())
    own = SuiteSigner.from_seed(SM2, seed).public_key
    assert genesis.validators[0][1] == own
    assert {len(p.public_key) for p in config.peers} == {65}
    department = genesis.app["departments"][0]["keys"][0]
    tx_seed = bytes.fromhex((tmp_path / "keys" / "public-security.tx.key").read_text())
    assert bytes.fromhex(department) == SuiteSigner.from_seed(SM2, tx_seed).public_key
