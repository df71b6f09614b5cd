"""The gateway's configuration: a testnet directory, a TOML file or both, and a clear
error naming the file and the field for each mistake (never a key's content)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import nacl.signing
import pytest

from cli.main import main as cli
from web.gateway.config import ConfigError, hash_token, load

SEED = "11" * 32


def key_file(path: Path, seed: str = SEED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(seed + "\n")
    return path


def fake_testnet(root: Path) -> Path:
    """What `testnet init` leaves that the gateway reads (no node needs to run)."""
    (root / "agriculture").mkdir(parents=True)
    (root / "nodes.txt").write_text("agriculture 127.0.0.1:1\nsecurity 127.0.0.1:2\n")
    (root / "agriculture" / "config.toml").write_text('chain_id = "test-chain"\n')
    for name in ("kiosk.key", "subject.key", "agriculture.tx.key"):
        key_file(root / "keys" / name)
    (root / "genesis").mkdir()
    departments = [{"id": "haidian-kiosk-01", "roles": ["terminal"]}]
    genesis = {"app": {"departments": departments}}
    (root / "genesis" / "authentication.json").write_text(json.dumps(genesis))
    return root


TOKEN = f'[[tokens]]\nname = "app"\nscopes = ["read"]\nsha256 = "{hash_token("t").hex()}"\n'
NETWORK = '[network]\nchain_id = "c"\nnodes = { agriculture = "127.0.0.1:1" }\ninsecure = true\n'


def write(tmp_path: Path, text: str) -> Path:
    key_file(tmp_path / "k.key")
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def full(extra: str = "", tokens: str = TOKEN) -> str:
    terminal = '[terminal]\nid = "t1"\nkey = "k.key"\nsubject_key = "k.key"\n'
    return f'{NETWORK}{terminal}[departments]\nagriculture = "k.key"\n{extra}{tokens}'


def test_a_testnet_directory_alone_gives_everything_and_a_private_token(tmp_path: Path) -> None:
    root = fake_testnet(tmp_path / "net")
    config = load(root, None)
    assert config.network.chain_id == "test-chain" and config.terminal_id == "haidian-kiosk-01"
    assert list(config.departments) == ["agriculture"]  # security's key is not there
    token_file = root / "keys" / "gateway.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    (token,) = config.tokens
    assert token.scopes == {"read", "write"}
    assert token.sha256 == hash_token(token_file.read_text().strip())
    assert load(root, None).tokens == config.tokens  # the same token next time
    assert "gateway.token" in config.notes[0] and token_file.read_text().strip() not in repr(config)


def test_a_full_file_loads(tmp_path: Path) -> None:
    text = 'listen = "127.0.0.1:9"\n' + full("[rate]\nper_s = 2\nburst = 5\n")
    config = load(None, write(tmp_path, text))
    assert config.listen == "127.0.0.1:9"
    assert config.network.tls is None and config.rate.per_s == 2.0 and config.rate.burst == 5
    assert config.terminal_key == nacl.signing.SigningKey(bytes.fromhex(SEED))
    assert [t.name for t in config.tokens] == ["app"]


def test_a_file_over_a_testnet_takes_its_tokens(tmp_path: Path) -> None:
    root = fake_testnet(tmp_path / "net")
    config = load(root, write(tmp_path, TOKEN))
    assert [t.name for t in config.tokens] == ["app"] and config.terminal_id == "haidian-kiosk-01"
    assert not (root / "keys" / "gateway.token").exists()


BAD = [
    (full(tokens=""), "no [[tokens]]"),
    ("listen = [\n", "not valid TOML"),
    ("colour = 1\n" + full(), "unknown setting(s) colour"),
    (full(tokens=TOKEN.replace('["read"]', '["admin"]')), "scopes must be"),
    (full(tokens=TOKEN.replace('sha256 = "', 'sha256 = "zz')), "sha256 must be"),
    (full(tokens=TOKEN + TOKEN), "two tokens share a name"),
    (full(tokens=TOKEN.replace('name = "app"', 'name = ""')), "name must be"),
    (full("[rate]\nper_s = 0\n"), "per_s must be a number above 0"),
    (full("[rate]\nburst = 1.5\n"), "burst must be a whole number"),
    (full().replace("insecure = true", ""), "needs ca, cert, key"),
    (full().replace('chain_id = "c"\n', ""), "chain_id is missing"),
    (full().replace('id = "t1"\n', ""), "[terminal] id is missing"),
    (full().replace('subject_key = "k.key"\n', ""), "subject_key is missing"),
    (full().replace('agriculture = "k.key"', 'agriculture = "absent.key"'), "cannot read"),
    (full().replace("[network]", "[elsewhere]"), "unknown setting(s) elsewhere"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m for _, m in BAD])
def test_each_mistake_is_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load(None, write(tmp_path, text))
    assert message in str(e.value)


def test_a_key_file_that_is_not_a_key_is_named_without_its_content(tmp_path: Path) -> None:
    path = write(tmp_path, full())
    key_file(tmp_path / "k.key", "not-a-secret-seed")
    with pytest.raises(ConfigError) as e:
        load(None, path)
    assert "k.key is not a key file" in str(e.value) and "not-a-secret" not in str(e.value)


def test_missing_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="give --dir TESTNET or --config"):
        load(None, None)
    with pytest.raises(ConfigError, match="cannot read"):
        load(None, tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not a testnet directory"):
        load(tmp_path, None)


def test_the_command_exits_2_with_the_reason(tmp_path: Path, capsys) -> None:
    assert cli(["gateway", "serve", "--config", str(tmp_path / "absent.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    path = write(tmp_path, full())
    assert cli(["gateway", "serve", "--config", str(path), "--listen", "nowhere"]) == 2
    assert "is not HOST:PORT" in capsys.readouterr().err


def test_a_new_token_prints_its_config_entry(capsys) -> None:
    assert cli(["gateway", "token", "--name", "hall", "--scope", "read", "--scope", "write"]) == 0
    out = capsys.readouterr().out
    token = out.split("stored anywhere): ", 1)[1].split()[0]
    assert f'sha256 = "{hash_token(token).hex()}"' in out and 'scopes = ["read", "write"]' in out
