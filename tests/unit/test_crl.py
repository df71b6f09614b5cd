"""The CRL check (node/crl.py) and `govchain ca revoke|crl` (cli/ca.py): revoked or not,
a CRL not the CA's refused at start and kept out at reload, a stale CRL still enforced,
the file re-read only when it changes, and the `[tls] crl` config field."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
from cryptography import x509

from cli.main import main as cli
from client.tls import TlsFiles
from node.config import ConfigError
from node.crl import (
    CRL_FILE,
    CrlError,
    RevocationList,
    crl_number,
    read_crl,
    revocation_guard,
    revoked_entry,
    sign_crl,
)
from node.logsampling import SampledLog
from node.tls import Authority, write_pair


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    """A CA directory as `govchain testnet init` writes it, with two client certificates."""
    d = tmp_path / "tls"
    ca = Authority.create("chain-x")
    ca.write(d / "ca.crt", d / "ca.key")
    for name in ("alice", "bob"):
        write_pair(d / f"{name}.crt", d / f"{name}.key", ca.issue_client(name))
    return d


def pem(ca_dir: Path, name: str) -> bytes:
    return (ca_dir / f"{name}.crt").read_bytes()


def serial(ca_dir: Path, name: str) -> int:
    return x509.load_pem_x509_certificate(pem(ca_dir, name)).serial_number


def authority(ca_dir: Path) -> Authority:
    return Authority.load(ca_dir / "ca.crt", ca_dir / "ca.key")


def test_revoke_lists_the_certificate_and_the_node_refuses_only_it(ca_dir: Path, capsys) -> None:
    assert cli(["ca", "revoke", "--ca-dir", str(ca_dir), "--cert", str(ca_dir / "alice.crt")]) == 0
    assert "revoked" in capsys.readouterr().out
    crl = RevocationList(ca_dir / CRL_FILE, ca_dir / "ca.crt")
    why = crl.why_revoked(pem(ca_dir, "alice"))
    assert why is not None and "revoked" in why and f"{serial(ca_dir, 'alice'):x}" in why
    assert crl.why_revoked(pem(ca_dir, "bob")) is None
    assert crl.revoked_count == 1


def test_revoke_again_keeps_one_entry_and_each_change_numbers_the_crl(ca_dir: Path) -> None:
    args = ["ca", "revoke", "--ca-dir", str(ca_dir), "--cert"]
    assert cli([*args, str(ca_dir / "alice.crt"), "--reason", "key_compromise"]) == 0
    assert cli([*args, str(ca_dir / "alice.crt")]) == 0  # already revoked: unchanged
    ca_cert = authority(ca_dir).cert
    assert crl_number(read_crl(ca_dir / CRL_FILE, ca_cert)) == 1
    assert cli([*args, str(ca_dir / "bob.crt")]) == 0
    crl = read_crl(ca_dir / CRL_FILE, ca_cert)
    assert crl_number(crl) == 2 and len(crl) == 2
    assert cli(["ca", "crl", "--ca-dir", str(ca_dir), "--renew"]) == 0
    assert crl_number(read_crl(ca_dir / CRL_FILE, ca_cert)) == 3


def test_crl_lists_the_entries_with_their_reasons(ca_dir: Path, capsys) -> None:
    assert cli(["ca", "crl", "--ca-dir", str(ca_dir)]) == 0
    assert "no CRL" in capsys.readouterr().out
    cert = str(ca_dir / "bob.crt")
    assert (
        cli(["ca", "revoke", "--ca-dir", str(ca_dir), "--cert", cert, "--reason", "superseded"])
        == 0
    )
    assert cli(["ca", "crl", "--ca-dir", str(ca_dir)]) == 0
    out = capsys.readouterr().out
    assert "1 revoked" in out and f"{serial(ca_dir, 'bob'):x}" in out and "superseded" in out


def test_revoke_refuses_a_certificate_another_ca_issued(ca_dir: Path, tmp_path: Path) -> None:
    other = Authority.create("elsewhere")
    write_pair(tmp_path / "x.crt", tmp_path / "x.key", other.issue_client("x"))
    assert cli(["ca", "revoke", "--ca-dir", str(ca_dir), "--cert", str(tmp_path / "x.crt")]) == 2
    assert not (ca_dir / CRL_FILE).exists()


def foreign_crl(ca_dir: Path) -> bytes:
    """A CRL naming our CA as issuer but signed by another key."""
    mine = authority(ca_dir)
    forger = Authority(Authority.create("forger").key, mine.cert)
    return sign_crl(forger, [revoked_entry(serial(ca_dir, "bob"), None)], 99)


def test_a_crl_not_signed_by_the_ca_is_refused_at_start(ca_dir: Path) -> None:
    (ca_dir / CRL_FILE).write_bytes(foreign_crl(ca_dir))
    with pytest.raises(CrlError, match="signature is not the consortium CA's"):
        RevocationList(ca_dir / CRL_FILE, ca_dir / "ca.crt")
    other = Authority.create("elsewhere")
    (ca_dir / CRL_FILE).write_bytes(sign_crl(other, [], 1))
    with pytest.raises(CrlError, match="not the consortium CA"):
        RevocationList(ca_dir / CRL_FILE, ca_dir / "ca.crt")
    (ca_dir / CRL_FILE).write_bytes(b"garbage")
    with pytest.raises(CrlError, match="not a CRL"):
        RevocationList(ca_dir / CRL_FILE, ca_dir / "ca.crt")


def test_a_changed_file_is_reloaded_and_a_bad_one_leaves_the_previous_in_force(
    ca_dir: Path,
) -> None:
    path = ca_dir / CRL_FILE
    ca = authority(ca_dir)
    path.write_bytes(sign_crl(ca, [], 1))
    crl = RevocationList(path, ca_dir / "ca.crt")
    assert crl.why_revoked(pem(ca_dir, "alice")) is None
    path.write_bytes(sign_crl(ca, [revoked_entry(serial(ca_dir, "alice"), None)], 2))
    assert crl.why_revoked(pem(ca_dir, "alice")) is not None  # the next check sees it
    path.write_bytes(foreign_crl(ca_dir))  # revokes bob, but not signed by the CA
    assert crl.why_revoked(pem(ca_dir, "bob")) is None
    assert crl.why_revoked(pem(ca_dir, "alice")) is not None  # the previous CRL stays
    assert crl.reload_failures == 1
    assert crl.why_revoked(pem(ca_dir, "bob")) is None and crl.reload_failures == 1  # once
    path.unlink()  # a missing file is a bad reload too: the previous one stays
    assert crl.why_revoked(pem(ca_dir, "alice")) is not None and crl.reload_failures == 2


def test_an_unchanged_file_is_not_read_again(ca_dir: Path, monkeypatch) -> None:
    path = ca_dir / CRL_FILE
    path.write_bytes(sign_crl(authority(ca_dir), [], 1))
    crl = RevocationList(path, ca_dir / "ca.crt")
    reads = []
    monkeypatch.setattr("node.crl.read_crl", lambda *a: reads.append(a))
    for _ in range(100):
        crl.why_revoked(pem(ca_dir, "alice"))
    assert reads == []


def test_a_crl_past_its_next_update_is_still_enforced(ca_dir: Path) -> None:
    """Decided: a revocation never lapses; a stale CRL is warned about, not dropped."""
    path = ca_dir / CRL_FILE
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=400)
    entry = revoked_entry(serial(ca_dir, "alice"), x509.ReasonFlags.key_compromise, long_ago)
    path.write_bytes(sign_crl(authority(ca_dir), [entry], 1, days=30, now=long_ago))
    crl = RevocationList(path, ca_dir / "ca.crt")
    assert crl.next_update is not None and crl.next_update < datetime.datetime.now(datetime.UTC)
    why = crl.why_revoked(pem(ca_dir, "alice"))
    assert why is not None and "key_compromise" in why


def test_a_crl_in_der_is_read_too(ca_dir: Path) -> None:
    crl = x509.load_pem_x509_crl(sign_crl(authority(ca_dir), [], 1))
    from cryptography.hazmat.primitives.serialization import Encoding

    (ca_dir / CRL_FILE).write_bytes(crl.public_bytes(Encoding.DER))
    assert RevocationList(ca_dir / CRL_FILE, ca_dir / "ca.crt").revoked_count == 0


def test_the_node_refuses_to_start_with_a_crl_the_ca_did_not_sign(ca_dir: Path) -> None:
    (ca_dir / CRL_FILE).write_bytes(foreign_crl(ca_dir))
    tls = TlsFiles(ca_dir / "ca.crt", ca_dir / "alice.crt", ca_dir / "alice.key", ca_dir / CRL_FILE)
    log = SampledLog(None, 1.0)
    with pytest.raises(ConfigError, match=r"\[tls\] crl: .*signature"):
        revocation_guard(tls, log)
    assert revocation_guard(TlsFiles(tls.ca, tls.cert, tls.key), log) is None


def test_the_config_reads_an_optional_crl_path(ca_dir: Path, tmp_path: Path) -> None:
    from node.config import load_config

    (ca_dir / CRL_FILE).write_bytes(sign_crl(authority(ca_dir), [], 1))
    node = tmp_path / "n"
    node.mkdir()
    (tmp_path / "n.key").write_text(os.urandom(32).hex())
    base = (
        'node_id = "n"\nchain_id = "c"\nkey_file = "../n.key"\nlisten = "127.0.0.1:1"\n'
        'data_dir = "d"\ngenesis_dir = "g"\nchannels = ["license"]\n[tls]\n'
        'ca = "../tls/ca.crt"\ncert = "../tls/alice.crt"\nkey = "../tls/alice.key"\n'
    )
    (node / "config.toml").write_text(base + 'crl = "../tls/ca.crl"\n')
    assert load_config(node / "config.toml").tls.crl == node / "../tls/ca.crl"
    (node / "config.toml").write_text(base)
    assert load_config(node / "config.toml").tls.crl is None
    (node / "config.toml").write_text(base + 'crl = "../tls/none.crl"\n')
    with pytest.raises(ConfigError, match=r"none\.crl not found"):
        load_config(node / "config.toml")


def test_a_stream_s_look_at_the_file_is_throttled_a_call_s_is_not(ca_dir: Path) -> None:
    """Frames of an open stream look at the CRL file at most every `max_age_s` (a `stat`
    per frame cost 3 % of a loaded node); a new call always looks, and each CRL loaded
    moves `generation`, which is what a stream's frames are checked again on."""
    path = ca_dir / CRL_FILE
    ca = authority(ca_dir)
    path.write_bytes(sign_crl(ca, [], 1))
    now = [100.0]
    crl = RevocationList(path, ca_dir / "ca.crt", monotonic=lambda: now[0])
    path.write_bytes(sign_crl(ca, [revoked_entry(serial(ca_dir, "alice"), None)], 2))
    assert crl.why_revoked(pem(ca_dir, "alice"), max_age_s=0.1) is None  # not looked yet
    assert crl.generation == 0
    now[0] += 0.2
    assert crl.why_revoked(pem(ca_dir, "alice"), max_age_s=0.1) is not None
    assert crl.generation == 1
    path.write_bytes(sign_crl(ca, [], 3))  # alice reinstated
    assert crl.why_revoked(pem(ca_dir, "alice"), max_age_s=0.1) is not None  # 0 s later
    assert crl.why_revoked(pem(ca_dir, "alice")) is None  # a call looks at once
    assert crl.generation == 2
