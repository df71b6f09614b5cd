"""Which source a node reads: a data dir with a `source.toml` mapping reads the
department's database through `SqlSource` (salts in `<data_dir>/sidecar.sqlite`); one
without keeps the embedded JSON files of `<data_dir>/source/`.

A department connects its database, or changes its mapping, without restarting its
validator: `ConfiguredSource` looks at `source.toml` (one stat) before each lookup and
opens the adapter it now names. A mapping that is bad at start stops the node (MappingError,
as every config error does); one that turns bad while the node runs is logged once, and
pulls fail with the reason until it is fixed, rather than serving from a stale adapter.
"""

from __future__ import annotations

import threading
from pathlib import Path

import structlog

from sources.base import SourceAdapter
from sources.embedded import EmbeddedSource
from sources.mapping import MappingError, load_mapping
from sources.sealing import PlainSealer, Sealer
from sources.sidecar import Sidecar, SidecarError
from sources.sql import SqlSource

MAPPING_FILE = "source.toml"
SIDECAR_FILE = "sidecar.sqlite"
log = structlog.get_logger("source")


def _open(data_dir: Path, sealer: Sealer | PlainSealer | None) -> SourceAdapter:
    mapping_path = data_dir / MAPPING_FILE
    if not mapping_path.exists():
        return EmbeddedSource(data_dir / "source")
    return SqlSource(load_mapping(mapping_path), Sidecar(data_dir / SIDECAR_FILE, sealer))


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


class ConfiguredSource:
    """The adapter `<data_dir>/source.toml` names now (see the module docstring)."""

    def __init__(self, data_dir: Path, sealer: Sealer | PlainSealer | None = None) -> None:
        self.data_dir = data_dir
        self.sealer = sealer
        self._path = data_dir / MAPPING_FILE
        self._lock = threading.Lock()
        self._stamp = _stamp(self._path)
        self._adapter: SourceAdapter | None = _open(data_dir, sealer)  # a bad mapping raises
        self.error: str | None = None

    def _current(self) -> SourceAdapter | None:
        stamp = _stamp(self._path)
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                # the old adapter is left to the garbage collector, not closed: a pull on
                # another thread may be reading through it right now
                self._adapter = None
                try:
                    self._adapter, self.error = _open(self.data_dir, self.sealer), None
                    log.info("source opened", mapping=stamp is not None)
                except (MappingError, SidecarError) as e:
                    self.error = str(e)
                    log.error("source mapping unusable; pulls fail until it is fixed", why=str(e))
            return self._adapter

    def lookup(self, license_id: str, item: str) -> tuple[bytes, bytes] | None:
        adapter = self._current()
        return None if adapter is None else adapter.lookup(license_id, item)


def open_source(data_dir: Path, sealer: Sealer | PlainSealer | None = None) -> ConfiguredSource:
    """The node's source, its sidecar sealed by `sealer` (a bad mapping raises
    MappingError, a sidecar sealed under another key SidecarError: the node does not start
    on a source it cannot use)."""
    return ConfiguredSource(data_dir, sealer)
