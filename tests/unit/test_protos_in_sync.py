"""The committed generated protobuf code matches protos/*.proto."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_code_is_in_sync_with_the_proto_sources(tmp_path: Path) -> None:
    _load_generator().generate(tmp_path)
    generated = sorted(p.name for p in (tmp_path / "protos").iterdir())
    assert "consensus_pb2.py" in generated
    for name in generated:
        committed = ROOT / "protos" / name
        assert committed.exists(), f"{name} is generated but not committed: run `make protos`"
        assert committed.read_text() == (tmp_path / "protos" / name).read_text(), (
            f"protos/{name} is stale: run `make protos`"
        )
