"""Keys in a PKCS#11 token (client/pkcs11_token.py) against a real SoftHSM2 token made
in a temp dir: signatures nacl verifies, key generation and import, and the errors an
operator meets (wrong PIN, no such object or token), none of which shows the PIN."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest

from chains.tx import decode_tx, encode_tx
from cli.main import main
from client import pkcs11_token
from client.keys import KeyCustodyError, SignerKey, load_signer, load_signing_key
from client.pkcs11_token import TokenError, create_token_key, mechanism_names, parse_uri
from protos import api_pb2 as api
from tests.softhsm import PIN, init_token, softhsm_env

TOKEN = "govchain-unit"
SEED = bytes(range(100, 132))


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One SoftHSM2 store for the process (the module reads SOFTHSM2_CONF once)."""
    env = softhsm_env(tmp_path_factory.mktemp("softhsm"))
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ.update(env)
    init_token(env, TOKEN)
    os.environ["KEYS_TEST_PIN"] = PIN
    yield f"pkcs11:token={TOKEN}"
    os.environ.pop("KEYS_TEST_PIN")
    if before is None:
        os.environ.pop("SOFTHSM2_CONF")
    else:
        os.environ["SOFTHSM2_CONF"] = before


def test_a_generated_key_signs_in_the_token(token: str) -> None:
    uri = f"{token};object=generated"
    public = create_token_key(uri, PIN)
    signer = load_signer(uri, "env:KEYS_TEST_PIN")
    assert signer.public_key == public
    for message in (b"", b"vote", bytes(5000)):
        nacl.signing.VerifyKey(public).verify(message, signer.sign(message))
    assert PIN not in repr(signer)
    signer.close()  # PKCS#11 logs in per process: the wrong-PIN test needs all closed


def test_an_imported_key_signs_as_the_file_did(token: str) -> None:
    uri = f"{token};object=imported"
    public = bytes(nacl.signing.SigningKey(SEED).verify_key)
    assert create_token_key(uri, PIN, SEED) == public
    key = load_signing_key(uri, "env:KEYS_TEST_PIN")
    assert isinstance(key, SignerKey) and bytes(key.verify_key) == public
    # Ed25519 is deterministic: the token's signature is the one nacl makes from the seed.
    assert key.sign(b"tx").signature == nacl.signing.SigningKey(SEED).sign(b"tx").signature
    # A token key signs txs through chains.tx.encode_tx exactly as a nacl key does.
    body = api.TxBody(chain_id="c", channel="license", type="kv.put", payload=b"p", nonce=1)
    tx = decode_tx(encode_tx(body, key), "c", 1 << 16)
    assert tx.signer == public
    nacl.signing.VerifyKey(public).verify(tx.body_bytes, tx.signature)
    key.signer.close()
    with pytest.raises(TokenError, match="already holds"):
        create_token_key(uri, PIN)


def test_the_private_key_cannot_be_read_out(token: str) -> None:
    from pkcs11 import Attribute, ObjectClass
    from pkcs11 import exceptions as p11e

    uri = parse_uri(f"{token};object=generated")
    with pkcs11_token.open_session(uri, PIN) as session:
        (key,) = session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: "generated"}
        )
        assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]
        with pytest.raises(p11e.AttributeSensitive):
            key[Attribute.VALUE]


def test_wrong_pin(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYS_TEST_PIN", "999999")
    with pytest.raises(KeyCustodyError, match="wrong PIN") as e:
        load_signer(f"{token};object=generated", "env:KEYS_TEST_PIN")
    assert "999999" not in str(e.value) and TOKEN in str(e.value)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("pkcs11:token=govchain-unit;object=missing", "no Ed25519 key pair labelled 'missing'"),
        ("pkcs11:token=no-such-token;object=v", "no token labelled 'no-such-token'"),
        ("pkcs11:token=govchain-unit", "needs token= and object="),
        ("pkcs11:token=t;object=v?pin-value=1234", "not the URI"),
        ("pkcs11:token=t;object=v?module-path=/nonexistent.so", "cannot load PKCS#11 module"),
    ],
)
def test_token_errors_name_what_is_missing(token: str, uri: str, message: str) -> None:
    with pytest.raises(KeyCustodyError, match=message):
        load_signer(uri, "env:KEYS_TEST_PIN")


def test_softhsm_offers_eddsa_and_no_sm2(token: str) -> None:
    """What docs/operations.md says SoftHSM2 supports (Ed25519; no SM2/SM3/SM4)."""
    names = mechanism_names(f"{token};object=any")
    assert {"EC_EDWARDS_KEY_PAIR_GEN", "EDDSA", "ECDSA"} <= set(names)
    assert not [n for n in names if n.startswith("SM")]


def test_keygen_in_a_token(token: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    uri = f"{token};object=from-cli"
    assert main(["keygen", "--token", uri, "--secret", "env:KEYS_TEST_PIN"]) == 0
    public = bytes.fromhex(capsys.readouterr().out.strip())
    signer = load_signer(uri, "env:KEYS_TEST_PIN")
    assert signer.public_key == public
    signer.close()
    assert main(["keygen", "--token", uri, "--secret", "env:KEYS_TEST_PIN"]) == 2
    assert "already holds" in capsys.readouterr().err
    (tmp_path / "pin").write_text("0000\n")
    argv = ["keygen", "--token", f"{token};object=x", "--secret", f"file:{tmp_path / 'pin'}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "wrong PIN" in err and "0000" not in err
