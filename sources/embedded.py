"""The embedded source: a department without a database of its own (the demo, tests).

`EmbeddedSource` keeps one JSON file per license, `<data_dir>/source/<license id>.json`
= `{item code: {"salt": hex, "value": hex}}` (docs/operations.md), written by the
department's own tooling through `EmbeddedSource.put` (the demo does so) and only read
by the node.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sources.base import LICENSE_ID


class EmbeddedSource:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, license_id: str) -> Path:
        if not LICENSE_ID.match(license_id):
            raise ValueError(f"not a license id: {license_id!r}")
        return self.directory / f"{license_id}.json"

    def put(self, license_id: str, items: dict[str, tuple[bytes, bytes]]) -> None:
        """Store a license's items atomically (write to a temp file, then rename)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {code: {"salt": s.hex(), "value": v.hex()} for code, (s, v) in items.items()}
        path = self._path(license_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, sort_keys=True))
        os.replace(tmp, path)

    def lookup(self, license_id: str, item: str) -> tuple[bytes, bytes] | None:
        try:
            data = json.loads(self._path(license_id).read_text())
        except (FileNotFoundError, ValueError):
            return None
        entry = data.get(item)
        if not isinstance(entry, dict):
            return None
        try:
            return bytes.fromhex(entry["salt"]), bytes.fromhex(entry["value"])
        except (KeyError, ValueError):
            return None
