"""Node configuration (TOML), channel genesis (JSON) and key files (node.config): good
files load, and every bad one raises ConfigError naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from node.config import (
    CHANNELS,
    ConfigError,
    Limits,
    load_config,
    load_genesis,
    load_key,
    make_genesis,
)

CHAIN = "govchain-test"
PEER_KEY = bytes(range(32))
VALIDATORS = [("dept-a", bytes([1]) * 32), ("dept-b", bytes([2]) * 32), ("dept-c", bytes([3]) * 32)]
CONSENSUS = {"checkpoint_interval_blocks": 4, "log_window_blocks": 8, "block_txs_max": 500}

REQUIRED = {
    "node_id": '"dept-a"',
    "chain_id": f'"{CHAIN}"',
    "key_file": '"keys/node.key"',
    "listen": '"127.0.0.1:7000"',
    "data_dir": '"data"',
    "genesis_dir": '"genesis"',
    "channels": '["license", "catalog"]',
    "insecure": "true",  # these tests are about the other fields; test_tls.py covers [tls]
}
PEER = {"node_id": '"dept-b"', "address": '"127.0.0.1:7001"', "public_key": f'"{PEER_KEY.hex()}"'}


def toml(
    top: dict[str, str] | None = None,
    peer: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
) -> str:
    fields = {**REQUIRED, "log_json": "true", **(top or {})}
    lines = [f"{k} = {v}" for k, v in fields.items()]
    lines += ["", "[limits]", "tick_ms = 20", "mempool_txs_max = 1000"]
    lines += [f"{k} = {v}" for k, v in (limits or {}).items()]
    lines += ["", "[[peers]]"]
    lines += [f"{k} = {v}" for k, v in {**PEER, **(peer or {})}.items()]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str, name: str = "node.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def config_error(call: object, *args: object) -> str:
    with pytest.raises(ConfigError) as err:
        call(*args)  # type: ignore[operator]
    return str(err.value)


# ------------------------------------------------------------------ node config


def test_good_config_loads_with_paths_relative_to_the_config_file(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, toml()))
    assert cfg.node_id == "dept-a"
    assert cfg.chain_id == CHAIN
    assert cfg.key_file == tmp_path / "keys" / "node.key"
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.genesis_dir == tmp_path / "genesis"
    assert cfg.listen == "127.0.0.1:7000"
    assert cfg.channels == ("license", "catalog")
    assert cfg.log_json is True
    assert len(cfg.peers) == 1
    peer = cfg.peers[0]
    assert (peer.node_id, peer.address, peer.public_key) == ("dept-b", "127.0.0.1:7001", PEER_KEY)


def test_limits_not_given_keep_their_defaults(tmp_path: Path) -> None:
    limits = load_config(write(tmp_path, toml())).limits
    assert (limits.tick_ms, limits.mempool_txs_max) == (20, 1000)
    assert limits.tx_bytes_max == Limits().tx_bytes_max
    assert limits.verify_threads == Limits().verify_threads


def test_config_without_peers_limits_or_log_json_loads(tmp_path: Path) -> None:
    text = "\n".join(f"{k} = {v}" for k, v in REQUIRED.items()) + "\n"
    cfg = load_config(write(tmp_path, text))
    assert cfg.peers == ()
    assert cfg.limits == Limits()
    assert cfg.log_json is False


def test_every_known_channel_is_accepted(tmp_path: Path) -> None:
    listed = ", ".join(f'"{c}"' for c in CHANNELS)
    cfg = load_config(write(tmp_path, toml(top={"channels": f"[{listed}]"})))
    assert cfg.channels == CHANNELS


def test_missing_config_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    message = config_error(load_config, path)
    assert str(path) in message
    assert "no such config file" in message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'node_id = "unterminated\n')
    message = config_error(load_config, path)
    assert str(path) in message
    assert "TOML" in message


def toml_without_top_level(field: str) -> str:
    """The good config with `field` removed from the top-level table only."""
    head, _, tail = toml().partition("\n[limits]")
    head = "\n".join(line for line in head.splitlines() if not line.startswith(f"{field} ="))
    return head + "\n[limits]" + tail


@pytest.mark.parametrize("field", sorted(set(REQUIRED) - {"insecure"}))
def test_missing_required_field_names_file_and_field(tmp_path: Path, field: str) -> None:
    path = write(tmp_path, toml_without_top_level(field))
    message = config_error(load_config, path)
    assert str(path) in message
    assert f"`{field}`" in message
    assert "missing" in message


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("node_id", "5", "str"),
        ("chain_id", "true", "str"),
        ("key_file", "[1, 2]", "str"),
        ("listen", "7000", "str"),
        ("data_dir", "{ path = 'x' }", "str"),
        ("genesis_dir", "1.5", "str"),
        ("channels", '"license"', "list"),
    ],
)
def test_wrong_type_names_file_field_and_expected_type(
    tmp_path: Path, field: str, value: str, kind: str
) -> None:
    path = write(tmp_path, toml(top={field: value}))
    message = config_error(load_config, path)
    assert str(path) in message
    assert f"`{field}`" in message
    assert kind in message


@pytest.mark.parametrize("field", ["node_id", "address", "public_key"])
def test_peer_field_missing_or_of_wrong_type_names_the_peer(tmp_path: Path, field: str) -> None:
    missing = write(tmp_path, toml(peer={field: "0"}).replace(f"{field} = 0\n", ""), "a.toml")
    wrong = write(tmp_path, toml(peer={field: "0"}), "b.toml")
    for path in (missing, wrong):
        message = config_error(load_config, path)
        assert str(path) in message
        assert "peers[0]" in message
        assert f"`{field}`" in message


def test_unknown_channel_names_file_and_channel(tmp_path: Path) -> None:
    path = write(tmp_path, toml(top={"channels": '["license", "health"]'}))
    message = config_error(load_config, path)
    assert str(path) in message
    assert "'health'" in message
    assert "channel" in message


def test_unknown_limit_names_file_and_limit(tmp_path: Path) -> None:
    path = write(tmp_path, toml(limits={"tick_seconds": "1"}))
    message = config_error(load_config, path)
    assert str(path) in message
    assert "tick_seconds" in message


@pytest.mark.parametrize(
    ("key", "what"),
    [
        ("zz" * 32, "not hex"),
        ("ab" * 31, "32 bytes"),
        ("ab" * 33, "32 bytes"),
        ("abc", "not hex"),
        ("", "32 bytes"),
    ],
)
def test_bad_peer_public_key_names_file_and_peer(tmp_path: Path, key: str, what: str) -> None:
    path = write(tmp_path, toml(peer={"public_key": f'"{key}"'}))
    message = config_error(load_config, path)
    assert str(path) in message
    assert "peers[0]" in message
    assert "public key" in message
    assert what in message


def test_second_peer_error_names_its_index(tmp_path: Path) -> None:
    second = '\n[[peers]]\nnode_id = "dept-c"\naddress = "x:1"\npublic_key = "00"\n'
    path = write(tmp_path, toml() + second)
    assert "peers[1]" in config_error(load_config, path)


# ------------------------------------------------------------------ genesis


def write_genesis(
    tmp_path: Path,
    chain: str = CHAIN,
    channel: str = "license",
    validators: list[tuple[str, bytes]] | None = None,
    consensus: dict[str, int] | None = None,
) -> Path:
    raw = make_genesis(
        chain, channel, VALIDATORS if validators is None else validators, consensus or CONSENSUS
    )
    path = tmp_path / f"{channel}.json"
    path.write_bytes(raw)
    return path


def test_genesis_round_trips_through_make_and_load(tmp_path: Path) -> None:
    path = write_genesis(tmp_path)
    genesis = load_genesis(path, CHAIN, "license")
    assert genesis.chain_id == CHAIN
    assert genesis.channel == "license"
    assert genesis.validators == tuple(VALIDATORS)
    assert genesis.consensus == CONSENSUS
    assert genesis.raw == path.read_bytes()
    cfg = genesis.consensus_config()
    assert cfg.channel == "license"
    assert cfg.validators == tuple(k for _, k in VALIDATORS)
    assert cfg.checkpoint_interval_blocks == 4 and cfg.log_window_blocks == 8
    assert cfg.block_txs_max == 500
    assert cfg.genesis_hash == genesis.hash


def test_genesis_hash_is_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    path = write_genesis(tmp_path)
    genesis = load_genesis(path, CHAIN, "license")
    assert genesis.hash == hashlib.sha256(path.read_bytes()).digest()


def test_reformatted_genesis_has_another_hash(tmp_path: Path) -> None:
    path = write_genesis(tmp_path)
    original = load_genesis(path, CHAIN, "license")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    reformatted = load_genesis(path, CHAIN, "license")
    assert reformatted.validators == original.validators
    assert reformatted.hash != original.hash


def test_make_genesis_is_canonical() -> None:
    reordered = dict(reversed(list(CONSENSUS.items())))
    assert make_genesis(CHAIN, "license", VALIDATORS, CONSENSUS) == make_genesis(
        CHAIN, "license", VALIDATORS, reordered
    )
    assert make_genesis(CHAIN, "license", VALIDATORS, CONSENSUS) != make_genesis(
        CHAIN, "license", list(reversed(VALIDATORS)), CONSENSUS
    )


@pytest.mark.parametrize(("chain", "channel"), [("other-chain", "license"), (CHAIN, "catalog")])
def test_genesis_for_another_chain_or_channel_is_refused(
    tmp_path: Path, chain: str, channel: str
) -> None:
    path = write_genesis(tmp_path, chain=chain, channel=channel)
    message = config_error(load_genesis, path, CHAIN, "license")
    assert str(path) in message
    assert f"{chain}/{channel}" in message


def test_missing_genesis_names_file_and_channel(tmp_path: Path) -> None:
    path = tmp_path / "license.json"
    message = config_error(load_genesis, path, CHAIN, "license")
    assert str(path) in message
    assert "'license'" in message


def test_genesis_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "license.json"
    path.write_text("{ not json")
    message = config_error(load_genesis, path, CHAIN, "license")
    assert str(path) in message
    assert "JSON" in message


@pytest.mark.parametrize("key", ["zz" * 32, "01" * 31, "01" * 33])
def test_bad_validator_key_names_file_and_validators(tmp_path: Path, key: str) -> None:
    path = write_genesis(tmp_path)
    good = VALIDATORS[1][1].hex()
    path.write_text(path.read_text().replace(good, key))
    message = config_error(load_genesis, path, CHAIN, "license")
    assert str(path) in message
    assert "validators" in message
    assert "public key" in message


@pytest.mark.parametrize(
    ("consensus", "names"),
    [
        ({"checkpoint_interval_blocks": 8, "log_window_blocks": 15}, "log_window_blocks"),
        ({"block_txs_max": 0}, "block_txs_max"),
        ({"in_flight_blocks_max": 0}, "in_flight_blocks_max"),
        ({"view_change_timeout_max_ticks": 1}, "view_change_timeout_max_ticks"),
        ({"no_such_parameter": 1}, "no_such_parameter"),
    ],
)
def test_invalid_consensus_parameters_are_a_config_error(
    tmp_path: Path, consensus: dict[str, int], names: str
) -> None:
    path = write_genesis(tmp_path, consensus=consensus)
    message = config_error(load_genesis, path, CHAIN, "license")
    assert str(path) in message
    assert names in message


def test_genesis_without_validators_or_with_a_repeated_one_is_refused(tmp_path: Path) -> None:
    for validators in ([], [VALIDATORS[0], ("dept-z", VALIDATORS[0][1])]):
        path = write_genesis(tmp_path, validators=validators)
        message = config_error(load_genesis, path, CHAIN, "license")
        assert str(path) in message
        assert "validator" in message


# ------------------------------------------------------------------ key file

SEED = bytes(range(100, 132))


def test_key_file_with_a_hex_seed_and_trailing_newline_loads(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    path.write_text(SEED.hex() + "\n")
    assert load_key(path) == SEED


def test_missing_key_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.key"
    message = config_error(load_key, path)
    assert str(path) in message
    assert "not found" in message


@pytest.mark.parametrize(
    ("text", "what"),
    [
        (SEED.hex()[:-1] + "g", "not hex"),
        ("0x" + SEED.hex(), "not hex"),
        (SEED.hex()[:-2], "32-byte"),
        (SEED.hex() + "00", "32-byte"),
        ((SEED * 2).hex(), "32-byte"),
    ],
)
def test_bad_key_file_names_the_file_and_never_the_key(
    tmp_path: Path, text: str, what: str
) -> None:
    path = tmp_path / "node.key"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as err:
        load_key(path)
    message = str(err.value)
    assert str(path) in message
    assert what in message
    secret = SEED.hex()[8:-8]  # any long run of the key material
    for shown in (message, repr(err.value), str(err.value.__cause__ or "")):
        assert secret not in shown
        assert secret.upper() not in shown
        assert SEED[4:-4].hex() not in shown


# ------------------------------------------------------------------ malformed files


def bare_toml(extra: str) -> str:
    return "\n".join(f"{k} = {v}" for k, v in REQUIRED.items()) + "\n" + extra


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        ("limits = 5\n", "`limits` must be a table"),
        ("peers = [5]\n", "peers[0] must be a table"),
        ("peers = 5\n", "`peers` must be an array"),
        ('[limits]\ntick_ms = "fast"\n', "limits.tick_ms must be a positive integer"),
        ("[limits]\ntick_ms = -5\n", "limits.tick_ms must be a positive integer"),
        ("[limits]\nverify_threads = true\n", "limits.verify_threads must be a positive integer"),
        ('log_json = "no"\n', "`log_json` must be true or false"),
    ],
)
def test_malformed_config_values_are_config_errors(tmp_path: Path, extra: str, what: str) -> None:
    message = config_error(load_config, write(tmp_path, bare_toml(extra)))
    assert "node.toml" in message and what in message


def test_unreadable_config_files_are_config_errors(tmp_path: Path) -> None:
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert "not UTF-8" in config_error(load_config, binary)
    assert "is a directory" in config_error(load_config, tmp_path)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"[1]", "must be a JSON object"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
    ],
)
def test_malformed_genesis_files_are_config_errors(
    tmp_path: Path, content: bytes, what: str
) -> None:
    path = tmp_path / "license.json"
    path.write_bytes(content)
    assert what in config_error(load_genesis, path, CHAIN, "license")


def test_genesis_validator_without_node_id_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "license.json"
    data = {"chain_id": CHAIN, "channel": "license", "validators": [{"public_key": "01" * 32}]}
    path.write_text(json.dumps(data))
    message = config_error(load_genesis, path, CHAIN, "license")
    assert "validators[0]" in message and "node_id" in message


def test_binary_key_file_is_refused_without_quoting_the_key(tmp_path: Path) -> None:
    seed = bytes(range(0x9C, 0x9C + 32))
    path = tmp_path / "node.key"
    path.write_bytes(seed)
    with pytest.raises(ConfigError) as err:
        load_key(path)
    message = str(err.value)
    assert "not hex" in message and "node.key" in message
    assert err.value.__cause__ is None and err.value.__suppress_context__
    for chunk in (seed.hex()[:8], repr(seed[:1])[2:-1], "0x9c"):
        assert chunk not in message
