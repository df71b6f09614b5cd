"""consensus/ stays a pure state machine: no I/O, clock, randomness or threads."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {
    "grpc",
    "plyvel",
    "time",
    "random",
    "threading",
    "asyncio",
    "os",
    "socket",
    "structlog",
    "subprocess",
    "multiprocessing",
    "datetime",
    "secrets",
    "logging",
}
CORE = Path(__file__).resolve().parents[2] / "consensus"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_consensus_package_imports_nothing_impure() -> None:
    files = sorted(CORE.glob("*.py"))
    assert len(files) >= 10
    offenders = {f.name: imported_modules(f) & FORBIDDEN for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_import_scan_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom time import monotonic\nimport threading as t\n")
    assert imported_modules(bad) & FORBIDDEN == {"os", "time", "threading"}


SIM = CORE.parent / "sim"
SIM_MAY_NOT_IMPORT = {"node", "storage", "chains", "tests", "grpc", "plyvel", "bench"}


def test_the_simulator_stands_on_the_core_alone() -> None:
    """sim/ runs the real consensus core with its own stand-ins for the node's parts, so it
    may import consensus, protos and the standard library, never the node or the tests
    (which use it, as the scripts do)."""
    files = sorted(SIM.glob("*.py"))
    assert len(files) >= 7
    offenders = {f.name: imported_modules(f) & SIM_MAY_NOT_IMPORT for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


CHAINS = CORE.parent / "chains"


def test_the_applications_never_import_the_node() -> None:
    """The node calls the applications (and the tx type lives in chains/tx.py, below
    both), so an application importing node/ would be an arrow running backwards."""
    files = sorted(CHAINS.glob("*.py"))
    assert len(files) >= 10
    offenders = {f.name: imported_modules(f) & {"node", "bench", "tests"} for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


NODE = CORE.parent / "node"
# What the node may read of a Replica: its interface (step, status) and a few values it
# needs per message on the hot path. Everything else goes through Replica.status().
REPLICA_SURFACE = {
    "step",
    "status",
    "is_recently_committed",
    "audience",
    "cfg",
    "me",
    "view",
    "view_active",
    "executed_height",
    "fetch_target",
    "stable",
}


def replica_reads(path: Path) -> set[str]:
    """Attributes read off anything named `replica` (`x.replica.name` or `replica.name`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if (isinstance(owner, ast.Name) and owner.id == "replica") or (
            isinstance(owner, ast.Attribute) and owner.attr == "replica"
        ):
            names.add(node.attr)
    return names


def test_the_node_reads_the_core_through_its_narrow_surface() -> None:
    reads = {f.name: replica_reads(f) - REPLICA_SURFACE for f in sorted(NODE.glob("*.py"))}
    assert {k: v for k, v in reads.items() if v} == {}


def test_the_surface_scan_sees_a_private_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("n = ch.runtime.replica.pending\nm = replica.orphans\nreplica.step(1)\n")
    assert replica_reads(bad) - REPLICA_SURFACE == {"pending", "orphans"}
