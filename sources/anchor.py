"""The commitments a department anchors for a license read from its own tables.

A fresh salt per item is made here and kept in the sidecar before the commitments are
returned, so a node can always reopen what it anchored; an item anchored before keeps its
salt (re-anchoring the same value gives the same commitment).
"""

from __future__ import annotations

import os

from chains.privacy import SALT_BYTES, commit_item
from sources.sql import SqlSource


def anchor_commitments(source: SqlSource, type_code: str, license_id: str) -> dict[str, bytes]:
    """Item code -> commitment of the license's values as the source holds them now."""
    record = source.record(type_code, license_id)
    if record is None:
        raise LookupError(f"the source holds no {type_code} license {license_id}")
    salts = {
        code: source.sidecar.salt(license_id, code) or os.urandom(SALT_BYTES)
        for code in record.items
    }
    source.sidecar.put_salts(license_id, salts)
    return {code: commit_item(salts[code], code, v) for code, v in record.items.items()}
