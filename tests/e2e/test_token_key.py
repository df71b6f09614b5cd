"""Keys that never sit in plaintext, on a real 4-node testnet: node 0's validator key lives
in a SoftHSM2 token, node 1's in an encrypted key file, and only nodes 0, 1 and 2 run, so
no block commits unless the token-signed and the decrypted key's votes verify (3 of 4 is
the quorum). The PIN and passphrase come from a file and an environment variable, and
neither they nor the keys appear in any log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import nacl.signing
import pytest

from cli.processes import node_command
from client.connection import load_signing_key
from client.txs import kv_put_tx, submit
from protos import api_pb2 as api
from tests.e2e.harness import ROOT, Testnet, wait_for
from tests.softhsm import PIN, init_token, softhsm_env

PASSPHRASE = "e2e passphrase, not a real one"


def keygen(args: list[str], env: dict[str, str] | None = None) -> str:
    """`govchain keygen …` as its own process (SoftHSM reads its config once per process)."""
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "keygen", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def use_key(config: Path, key_spec: str, secret: str) -> None:
    """Point the node's `key_file` at `key_spec`, its secret coming from `secret`."""
    lines = [
        f'key_file = "{key_spec}"\nkey_secret = "{secret}"' if line.startswith("key_file") else line
        for line in config.read_text().splitlines()
    ]
    config.write_text("\n".join(lines) + "\n")


@pytest.fixture
def net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Testnet]:
    env = softhsm_env(tmp_path / "softhsm")
    init_token(env, "govchain-e2e")
    for name, value in {**env, "GOVCHAIN_E2E_PASSPHRASE": PASSPHRASE}.items():
        monkeypatch.setenv(name, value)  # the node processes inherit them
    testnet = Testnet(tmp_path / "net", channels=("license",), view_change_timeout_ticks=20)
    try:
        yield testnet
    finally:
        testnet.stop_all()


def committed(net: Testnet, node: int, tx_ids: list[bytes]) -> bool:
    for tid in tx_ids:
        try:
            req = api.GetTransactionRequest(channel="license", tx_id=tid)
            net.stub(node).GetTransaction(req, timeout=5)
        except grpc.RpcError:
            return False
    return True


def test_a_token_key_and_an_encrypted_key_sign_votes_that_commit(
    net: Testnet, tmp_path: Path
) -> None:
    pin_file = tmp_path / "token.pin"
    pin_file.write_text(PIN + "\n")
    uri = "pkcs11:token=govchain-e2e;object=validator-0"
    key0, key1 = Path(net.configs[0].key_file), Path(net.configs[1].key_file)
    seeds = [key0.read_text().strip(), key1.read_text().strip()]
    publics = [bytes(nacl.signing.SigningKey(bytes.fromhex(s)).verify_key).hex() for s in seeds]
    secret1 = "env:GOVCHAIN_E2E_PASSPHRASE"
    sealed = tmp_path / "validator-1.key"
    token_args = ["--token", uri, "--secret", f"file:{pin_file}", "--import", str(key0)]
    assert keygen(token_args) == publics[0]
    file_args = ["--out", str(sealed), "--encrypt", "--secret", secret1, "--import", str(key1)]
    assert keygen(file_args) == publics[1]
    key0.unlink()  # from here on these validator keys exist only in custody
    key1.unlink()
    use_key(net.dirs[0] / "config.toml", uri, f"file:{pin_file}")
    use_key(net.dirs[1] / "config.toml", str(sealed), secret1)
    for i in range(3):  # node 3 stays down: every commit needs the votes of nodes 0 and 1
        net.start(i)
    for i in range(3):
        net.wait_ready(i, timeout_s=60)
    key = load_signing_key(net.client_key)
    txs = [kv_put_tx(key, net.chain_id, "license", b"k%d" % i, b"v", nonce=i) for i in range(5)]
    results = submit(net.stub(0), txs)
    assert [r.status for r in results] == [api.ACCEPTED] * 5
    ids = [r.tx_id for r in results]
    for i in range(3):
        wait_for(lambda i=i: committed(net, i, ids), 60, f"the txs committed on node {i}")
    for i in range(3):
        log = net.log(i)
        assert PIN not in log and PASSPHRASE not in log
        assert not any(seed in log for seed in seeds)
    # Only the keys still in plaintext are warned about: node 2's validator key, the tx keys.
    warned = [line for i in range(3) for line in net.log(i).splitlines() if "PLAINTEXT" in line]
    assert any(Path(net.configs[2].key_file).name in line for line in warned)
    assert not [line for line in warned if key0.name in line or key1.name in line]


def start_fails(net: Testnet, node: int, env: dict[str, str]) -> str:
    """`node start` of `node`, which must refuse with status 2; its stderr."""
    proc = subprocess.run(
        node_command(net.dirs[node] / "config.toml"),
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


def test_a_wrong_secret_or_a_tampered_key_stops_the_node_with_one_line(
    net: Testnet, tmp_path: Path
) -> None:
    pin_file = tmp_path / "token.pin"
    pin_file.write_text("000000\n")  # not the token's PIN
    uri = "pkcs11:token=govchain-e2e;object=validator-0"
    keygen(
        ["--token", uri, "--secret", "env:GOVCHAIN_E2E_PASSPHRASE"],
        {"GOVCHAIN_E2E_PASSPHRASE": PIN},
    )
    use_key(net.dirs[0] / "config.toml", uri, f"file:{pin_file}")
    err = start_fails(net, 0, {})
    assert "validator key" in err and "wrong PIN" in err and "000000" not in err
    sealed = tmp_path / "validator-1.key"
    keygen(["--out", str(sealed), "--encrypt", "--secret", "env:GOVCHAIN_E2E_PASSPHRASE"])
    use_key(net.dirs[1] / "config.toml", str(sealed), "env:GOVCHAIN_E2E_PASSPHRASE")
    err = start_fails(net, 1, {"GOVCHAIN_E2E_PASSPHRASE": "not it"})
    assert str(sealed) in err and "wrong passphrase" in err and "not it" not in err
    data = json.loads(sealed.read_text())
    data["ciphertext"] = ("1" if data["ciphertext"][0] == "0" else "0") + data["ciphertext"][1:]
    sealed.write_text(json.dumps(data))
    assert "cannot decrypt" in start_fails(net, 1, {})
