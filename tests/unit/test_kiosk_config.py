"""`govchain kiosk serve`'s settings: a kiosk.toml with every field read right, and a clear
error naming the file and the field for each one missing or bad; a testnet directory
read where `testnet init` put things; the command refusing to start (exit 2) with the
reason rather than a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

import nacl.signing
import pytest

from cli.kiosk_config import (
    KioskConfigError,
    load_kiosk_settings,
    settings_from_testnet,
    settings_from_toml,
)
from cli.main import main
from crypto import SuiteSigner

GOOD = """
chain_id = "govchain-test"
terminal_id = "haidian-kiosk-01"
terminal_key_file = "keys/kiosk.key"
requester = "agriculture"
requester_key_file = "keys/agriculture.tx.key"
subject_key_file = "keys/subject.key"
items = ["PEST-FIRST"]
idle_timeout_s = 30
consent_valid_s = 600
listen = "127.0.0.1:8099"
genesis_dir = "genesis"

[nodes]
agriculture = "127.0.0.1:7003"
civil-affairs = "127.0.0.1:7002"

[tls]
ca = "tls/ca.crt"
cert = "tls/kiosk.crt"
key = "tls/kiosk.key"
"""


def seed() -> str:
    return bytes(nacl.signing.SigningKey.generate()).hex() + "\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir()
    (tmp_path / "tls").mkdir()
    for name in ("kiosk.key", "agriculture.tx.key", "subject.key"):
        (tmp_path / "keys" / name).write_text(seed())
    for name in ("ca.crt", "kiosk.crt", "kiosk.key"):
        (tmp_path / "tls" / name).write_text("pem")
    path = tmp_path / "kiosk.toml"
    path.write_text(GOOD)
    return path


def test_a_full_kiosk_toml_is_read(config: Path) -> None:
    s = settings_from_toml(config)
    assert s.network.chain_id == "govchain-test" and s.network.nodes["agriculture"].endswith("7003")
    assert s.terminal_id == "haidian-kiosk-01" and s.requester == "agriculture"
    assert s.items == ("PEST-FIRST",) and s.idle_timeout_s == 30 and s.consent_valid_s == 600
    assert s.network.tls is not None and s.network.tls.cert == config.parent / "tls/kiosk.crt"
    assert s.pull_tls == s.network.tls and s.listen == "127.0.0.1:8099"
    assert s.network.genesis_dir == config.parent / "genesis"
    shown = repr(s)  # no key material in a repr (a log line or an error page could hold one)
    for name in ("kiosk.key", "agriculture.tx.key", "subject.key"):
        assert (config.parent / "keys" / name).read_text().strip() not in shown


def test_insecure_needs_no_tls_table(config: Path) -> None:
    text = GOOD.split("[tls]")[0].replace(
        'chain_id = "govchain-test"', 'insecure = true\nchain_id = "x"'
    )
    config.write_text(text)
    assert settings_from_toml(config).network.tls is None


def drop(field: str) -> str:
    return "\n".join(line for line in GOOD.splitlines() if not line.startswith(f"{field} ="))


BAD = [
    (drop("chain_id"), "chain_id: missing"),
    (drop("terminal_id"), "terminal_id: missing"),
    (drop("terminal_key_file"), "terminal_key_file: missing"),
    (drop("requester"), "requester: missing"),
    (drop("requester_key_file"), "requester_key_file: missing"),
    (drop("subject_key_file"), "subject_key_file: missing"),
    (drop("items"), "items: missing"),
    (GOOD.replace('items = ["PEST-FIRST"]', "items = []"), "items: missing"),
    (GOOD.replace('items = ["PEST-FIRST"]', 'items = ["", 3]'), "items: every"),
    (GOOD.replace('chain_id = "govchain-test"', "chain_id = 7"), "chain_id: must be"),
    (GOOD.replace("idle_timeout_s = 30", "idle_timeout_s = 0"), "idle_timeout_s: must be"),
    (GOOD.replace("idle_timeout_s = 30", 'idle_timeout_s = "x"'), "idle_timeout_s: must be"),
    (GOOD.replace("consent_valid_s = 600", "consent_valid_s = 5"), "consent_valid_s: must be"),
    (GOOD.replace('requester = "agriculture"', 'requester = "health"'), "no entry in [nodes]"),
    (GOOD.replace('"keys/kiosk.key"', '"keys/none.key"'), "terminal_key_file: "),
    (GOOD.replace('cert = "tls/kiosk.crt"', ""), "cert: missing"),
    (GOOD.replace('ca = "tls/ca.crt"', 'ca = "tls/gone.crt"'), "ca: "),
    (GOOD.split("[tls]")[0], "tls: missing"),
    (GOOD.replace('"127.0.0.1:7003"', '"nohost"'), "nodes.agriculture: must be host:port"),
    (GOOD.replace("[nodes]", "[elsewhere]"), "nodes: missing"),
    ("chain_id = ", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "error"), BAD)
def test_each_missing_or_bad_field_is_named(config: Path, text: str, error: str) -> None:
    config.write_text(text)
    with pytest.raises(KioskConfigError, match=r"kiosk\.toml") as e:
        settings_from_toml(config)
    assert error in str(e.value)


@pytest.mark.parametrize(("content", "error"), [("zz\n", "not a 32-byte hex"), ("ab\n", "32-byte")])
def test_a_bad_key_file_is_named(config: Path, content: str, error: str) -> None:
    (config.parent / "keys" / "agriculture.tx.key").write_text(content)
    with pytest.raises(KioskConfigError, match=f"requester_key_file.*{error}"):
        settings_from_toml(config)


def test_a_short_subject_key_is_refused(config: Path) -> None:
    (config.parent / "keys" / "subject.key").write_text("abcd\n")
    with pytest.raises(KioskConfigError, match=r"subject_key_file.*fewer than 16 bytes"):
        settings_from_toml(config)


def test_a_directory_that_is_no_testnet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KioskConfigError, match="not a testnet directory"):
        settings_from_testnet(tmp_path)


def test_the_command_line_timeout_overrides_and_is_checked(config: Path) -> None:
    args = argparse.Namespace(dir=None, config=config, idle_timeout_s=5.0)
    assert load_kiosk_settings(args).idle_timeout_s == 5.0
    with pytest.raises(KioskConfigError, match="--idle-timeout-s"):
        load_kiosk_settings(argparse.Namespace(dir=None, config=config, idle_timeout_s=-1.0))


def test_the_command_exits_2_with_the_reason(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text(drop("terminal_id"))
    assert main(["kiosk", "serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "cannot start the kiosk" in err and "terminal_id: missing" in err
    assert "Traceback" not in err
    config.write_text(GOOD)
    assert main(["kiosk", "serve", "--config", str(config), "--listen", "nowhere"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err


def test_the_command_needs_dir_or_config() -> None:
    with pytest.raises(SystemExit) as e:
        main(["kiosk", "serve"])
    assert e.value.code == 2


def test_a_testnet_directory_gives_the_kiosk_its_own_identity(tmp_path: Path) -> None:
    out = tmp_path / "net"
    assert main(["testnet", "init", "--out", str(out), "--app", "government"]) == 0
    s = settings_from_testnet(out)
    assert s.terminal_id == "haidian-kiosk-01"  # the genesis entry holding keys/kiosk.key
    assert bytes(s.terminal_key.verify_key) != bytes(s.requester_key.verify_key)
    assert s.requester == "agriculture" and s.items == ("PEST-FIRST",)
    assert s.network.tls is not None and s.network.tls.cert == out / "tls" / "kiosk.crt"
    assert s.pull_tls == s.network.tls and s.network.genesis_dir == out / "genesis"
    assert set(s.network.nodes) == {
        "public-security",
        "market-regulation",
        "civil-affairs",
        "agriculture",
    }


def test_an_sm2_sm3_testnet_gives_the_kiosk_sm2_keys(tmp_path: Path) -> None:
    """The suite comes from the testnet's genesis: the kiosk's terminal and department keys
    are SM2 signers, and the terminal is still found by its (SM2) key in the genesis."""
    out = tmp_path / "net"
    init = ["testnet", "init", "--out", str(out), "--app", "government"]
    assert main([*init, "--crypto-suite", "sm2-sm3"]) == 0
    s = settings_from_testnet(out)
    assert s.network.crypto_suite == "sm2-sm3"
    assert isinstance(s.terminal_key, SuiteSigner) and isinstance(s.requester_key, SuiteSigner)
    assert s.terminal_key.suite.name == "sm2-sm3" and len(s.terminal_key.public_key) == 65
    assert s.terminal_id == "haidian-kiosk-01"


def test_a_kiosk_toml_names_its_suite_or_takes_the_genesis_one(config: Path) -> None:
    assert settings_from_toml(config).network.crypto_suite == "ed25519-sha256"
    config.write_text(GOOD.replace('listen = "', 'crypto_suite = "sm2-sm3"\nlisten = "'))
    s = settings_from_toml(config)
    assert s.network.crypto_suite == "sm2-sm3" and isinstance(s.requester_key, SuiteSigner)
    genesis = config.parent / "genesis"
    genesis.mkdir()
    (genesis / "authentication.json").write_text('{"crypto_suite": "sm2-sm3"}')
    config.write_text(GOOD)
    assert settings_from_toml(config).network.crypto_suite == "sm2-sm3"
    config.write_text(GOOD.replace('listen = "', 'crypto_suite = "ed25519-sha256"\nlisten = "'))
    with pytest.raises(KioskConfigError, match="crypto_suite: is ed25519-sha256, the genesis"):
        settings_from_toml(config)
    config.write_text(GOOD.replace('listen = "', 'crypto_suite = "rsa"\nlisten = "'))
    with pytest.raises(KioskConfigError, match="crypto_suite: must be one of"):
        settings_from_toml(config)
