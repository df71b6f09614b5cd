"""Which source a node reads: a data dir with a `source.toml` mapping reads the
department's database through `SqlSource` (salts in `<data_dir>/sidecar.sqlite`); one
without keeps the embedded JSON files of `<data_dir>/source/`."""

from __future__ import annotations

from pathlib import Path

from sources.base import SourceAdapter
from sources.embedded import EmbeddedSource
from sources.mapping import load_mapping
from sources.sidecar import Sidecar
from sources.sql import SqlSource

MAPPING_FILE = "source.toml"
SIDECAR_FILE = "sidecar.sqlite"


def open_source(data_dir: Path) -> SourceAdapter:
    """The node's source adapter (a bad mapping raises MappingError: the node does not
    start on a mapping it cannot use)."""
    mapping_path = data_dir / MAPPING_FILE
    if not mapping_path.exists():
        return EmbeddedSource(data_dir / "source")
    return SqlSource(load_mapping(mapping_path), Sidecar(data_dir / SIDECAR_FILE))
