"""The sidecar at rest: salts sealed and row keys hashed under a key derived from the
department's key, so a copy of the file un-hides no item and names no person; opened with
another key (or a plaintext file with a key) it refuses, loudly."""

from __future__ import annotations

from pathlib import Path

import nacl.signing
import pytest

from chains.privacy import commit_item
from sources.sealing import Sealer, SealingError, sealing_key
from sources.sidecar import Sidecar, SidecarError
from sources.sql import SqlSource
from tests.source_rows import anchor_row
from tests.unit.test_sql_source import LICENSE, _sqlite, example_mapping

KEY = nacl.signing.SigningKey(bytes(range(32)))


def sealed_source(tmp_path: Path, key: nacl.signing.SigningKey = KEY) -> SqlSource:
    department = _sqlite(tmp_path)
    sidecar = Sidecar(tmp_path / "sidecar.sqlite", Sealer(sealing_key(key)))
    return SqlSource(example_mapping(department.url), sidecar)


def test_the_file_holds_no_salt_and_no_row_key_in_the_clear(tmp_path: Path) -> None:
    source = sealed_source(tmp_path)
    lic = anchor_row(source, "BL", LICENSE)
    salts = {c.code: source.sidecar.salt(lic.license_id, c.code) for c in lic.items}
    salt, value = source.lookup(lic.license_id, "name")
    assert commit_item(salt, "name", value) == lic.items[0].commitment
    source.close()
    source.sidecar.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("sidecar.sqlite*"))
    assert LICENSE.encode() not in raw, "the department's key of the row is hashed/sealed"
    for s in salts.values():
        assert s not in raw, "each salt is sealed"


def test_the_sealing_key_is_the_same_each_time_and_differs_per_department() -> None:
    assert sealing_key(KEY) == sealing_key(nacl.signing.SigningKey(bytes(range(32))))
    assert sealing_key(KEY) != sealing_key(nacl.signing.SigningKey(bytes(32)))


def test_another_key_or_a_plaintext_file_is_refused(tmp_path: Path) -> None:
    source = sealed_source(tmp_path)
    anchor_row(source, "BL", LICENSE)
    source.sidecar.close()
    other = Sealer(sealing_key(nacl.signing.SigningKey(bytes(32))))
    with pytest.raises(SidecarError, match="under another department key"):
        Sidecar(tmp_path / "sidecar.sqlite", other)
    with pytest.raises(SidecarError, match="sealed; give the department key"):
        Sidecar(tmp_path / "sidecar.sqlite")  # no key at all

    plain_dir = tmp_path / "plain"
    plain = Sidecar(plain_dir / "sidecar.sqlite")
    plain.journal([], {"L-1": {"name": bytes(16)}})
    plain.close()
    with pytest.raises(SidecarError, match="in plaintext"):
        Sidecar(plain_dir / "sidecar.sqlite", Sealer(sealing_key(KEY)))


def test_a_sealed_salt_moved_to_another_row_does_not_open() -> None:
    sealer = Sealer(sealing_key(KEY))
    sealed = sealer.seal(b"salt", b"L-1\x00name")
    assert sealer.open(sealed, b"L-1\x00name") == b"salt"
    with pytest.raises(SealingError):
        sealer.open(sealed, b"L-2\x00name")
    with pytest.raises(SealingError):
        sealer.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), b"L-1\x00name")


def test_after_a_key_rotation_the_data_key_is_rewrapped_and_every_salt_still_opens(
    tmp_path: Path,
) -> None:
    source = sealed_source(tmp_path)
    lic = anchor_row(source, "BL", LICENSE)
    before = source.lookup(lic.license_id, "name")
    new_key = nacl.signing.SigningKey(bytes(32))
    source.sidecar.rewrap(Sealer(sealing_key(new_key)))
    source.sidecar.close()
    with pytest.raises(SidecarError, match="under another department key"):
        Sidecar(tmp_path / "sidecar.sqlite", Sealer(sealing_key(KEY)))
    reopened = Sidecar(tmp_path / "sidecar.sqlite", Sealer(sealing_key(new_key)))
    assert reopened.salt(lic.license_id, "name") == before[0]


def test_an_sm2_department_key_gives_one_sealing_key_though_its_signatures_vary() -> None:
    from crypto.suite import SuiteSigner, suite_by_name

    suite = suite_by_name("sm2-sm3")
    signer = SuiteSigner.from_seed(suite, bytes(range(32)))
    assert signer.sign(b"x") != signer.sign(b"x"), "SM2 signatures are randomised"
    again = SuiteSigner.from_seed(suite, bytes(range(32)))
    assert sealing_key(signer) == sealing_key(again)
    other = SuiteSigner.from_seed(suite, bytes(32))
    assert sealing_key(signer) != sealing_key(other)
