"""Key files (client/keys.py): encrypted round trip, wrong passphrase, tampering, the
plaintext warning, secret sources, the node config's key fields and `govchain keygen`."""

from __future__ import annotations

import json
from pathlib import Path

import nacl.pwhash
import nacl.signing
import pytest

from cli.main import main
from client import keys
from client.keys import KeyCustodyError, load_seed, load_signer, load_signing_key
from node.config import ConfigError, load_config
from tests.unit.test_tls import _config as tls_config

FAST = {
    "opslimit": nacl.pwhash.argon2id.OPSLIMIT_MIN,
    "memlimit": nacl.pwhash.argon2id.MEMLIMIT_MIN,
}
SEED = bytes(range(32))
PUBLIC = bytes(nacl.signing.SigningKey(SEED).verify_key)


@pytest.fixture(autouse=True)
def as_a_fresh_cli_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees key loading as a `govchain` command does in its own process: no
    logging configured (an in-process node run earlier in the session configures it) and
    no warning given yet."""
    monkeypatch.setattr(keys, "_warnings_into_log", False)
    monkeypatch.setattr(keys, "_warned", set())


@pytest.fixture
def sealed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KEYS_TEST_PASS", "correct horse")
    path = tmp_path / "v.key"
    keys.write_encrypted_key(path, b"correct horse", SEED, **FAST)
    return path


def test_encrypted_round_trip_signs_as_the_key(sealed: Path) -> None:
    assert sealed.stat().st_mode & 0o777 == 0o600
    signer = load_signer(sealed, "env:KEYS_TEST_PASS")
    assert signer.public_key == PUBLIC
    nacl.signing.VerifyKey(PUBLIC).verify(b"m", signer.sign(b"m"))
    assert bytes(load_signing_key(sealed, "env:KEYS_TEST_PASS")) == SEED


def test_encrypted_file_is_canonical_and_holds_no_seed(sealed: Path) -> None:
    text = sealed.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2) + "\n"
    assert data["format"] == "govchain-key" and data["version"] == 1
    assert data["kdf"]["name"] == "argon2id" and data["public_key"] == PUBLIC.hex()
    assert SEED.hex() not in text


def test_wrong_passphrase_names_the_file(sealed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYS_TEST_PASS", "wrong")
    with pytest.raises(KeyCustodyError, match="wrong passphrase") as e:
        load_signer(sealed, "env:KEYS_TEST_PASS")
    assert str(sealed) in str(e.value) and e.value.__cause__ is None


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "salt", "public_key"])
def test_a_tampered_file_is_refused(sealed: Path, field: str) -> None:
    data = json.loads(sealed.read_text())
    where = data["kdf"] if field == "salt" else data
    where[field] = ("1" if where[field][0] == "0" else "0") + where[field][1:]
    sealed.write_text(json.dumps(data))
    with pytest.raises(KeyCustodyError, match=str(sealed)):
        load_seed(sealed, "env:KEYS_TEST_PASS")


def test_out_of_range_kdf_parameters_are_refused(sealed: Path) -> None:
    data = json.loads(sealed.read_text())
    data["kdf"]["memlimit"] = 1 << 40  # would allocate a TiB
    sealed.write_text(json.dumps(data))
    with pytest.raises(KeyCustodyError, match="out of range"):
        load_seed(sealed, "env:KEYS_TEST_PASS")


def test_an_encrypted_file_without_a_secret_says_so(sealed: Path) -> None:
    with pytest.raises(KeyCustodyError, match="needs a secret"):
        load_signer(sealed)


def test_plaintext_loads_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plain.key"
    path.write_text(SEED.hex() + "\n")
    assert load_signer(path).public_key == PUBLIC
    assert load_signer(path).public_key == PUBLIC
    err = capsys.readouterr().err
    assert err.count("PLAINTEXT KEY FILE") == 1 and str(path) in err
    assert SEED.hex() not in err


def test_secret_from_a_file(tmp_path: Path, sealed: Path) -> None:
    (tmp_path / "pass").write_text("correct horse\n")
    assert load_signer(sealed, f"file:{tmp_path / 'pass'}").public_key == PUBLIC


@pytest.mark.parametrize(
    ("spec", "message"),
    [("env:KEYS_TEST_UNSET", "not set"), ("file:/nonexistent", "cannot read"), ("pw", "env:")],
)
def test_secret_errors(spec: str, message: str) -> None:
    with pytest.raises(KeyCustodyError, match=message):
        keys.read_secret(spec, "k")


def _config(tmp_path: Path, key_file: str, extra: str) -> Path:
    """test_tls's minimal config, insecure, with this key_file and `extra` lines."""
    path = tls_config(tmp_path, "insecure = true\n" + extra)
    path.write_text(path.read_text().replace('key_file = "k"', f'key_file = "{key_file}"'))
    return path


def test_config_key_fields(tmp_path: Path) -> None:
    c = load_config(
        _config(
            tmp_path,
            "pkcs11:token=govchain;object=validator",
            'key_secret = "file:pin"\n'
            'department_key_file = "tx.key"\ndepartment_key_secret = "env:TX_PASS"\n',
        )
    )
    assert c.key_file == "pkcs11:token=govchain;object=validator"
    assert c.key_secret == f"file:{tmp_path / 'pin'}"
    assert c.department_key_file == tmp_path / "tx.key"
    assert c.department_key_secret == "env:TX_PASS"


def test_config_refuses_a_secret_written_into_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="never the secret itself"):
        load_config(_config(tmp_path, "k", 'key_secret = "hunter2"\n'))


def test_keygen_encrypt_then_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(keys, "OPSLIMIT", FAST["opslimit"])
    monkeypatch.setattr(keys, "MEMLIMIT", FAST["memlimit"])
    monkeypatch.setenv("KEYS_TEST_PASS", "pw")
    plain = tmp_path / "plain.key"
    plain.write_text(SEED.hex())
    out = tmp_path / "sealed.key"
    argv = ["keygen", "--out", str(out), "--encrypt", "--secret", "env:KEYS_TEST_PASS"]
    assert main([*argv, "--import", str(plain)]) == 0
    assert capsys.readouterr().out.strip() == PUBLIC.hex()
    assert load_seed(out, "env:KEYS_TEST_PASS") == SEED
    assert main(argv) == 2  # exists, no --force
    assert "exists" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0
    assert load_signer(out, "env:KEYS_TEST_PASS").public_key.hex() == (
        capsys.readouterr().out.strip()
    )
    assert main(["keygen", "--encrypt"]) == 2


def test_errors_keep_the_shape_callers_catch(tmp_path: Path) -> None:
    """ValueError for a bad key, OSError (with strerror) for an unreadable file: what
    `client.connection.load_signing_key` raised before key custody existed."""
    bad = tmp_path / "bad.key"
    bad.write_text("zz\n")
    with pytest.raises(ValueError, match="not hex"):
        load_signing_key(bad)
    with pytest.raises(OSError, match="key file not found") as e:
        load_signing_key(tmp_path / "absent.key")
    assert e.value.strerror
