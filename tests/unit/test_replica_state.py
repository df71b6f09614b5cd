"""The replica's state is declared in one place (consensus/replica_state.py).

`Replica` is built from parts, one module per concern, over one `ReplicaState`. These
tests hold the shape: no part adds a field the state does not declare, no part pretends
to be `Replica` to reach another's methods, and what parts ask of each other is declared
and implemented.
"""

from __future__ import annotations

import ast
from pathlib import Path

from consensus.replica import Replica
from consensus.replica_state import ReplicaState

CORE = Path(__file__).resolve().parents[2] / "consensus"
PARTS = sorted(p for p in CORE.glob("replica*.py") if p.name != "replica_state.py")


def self_fields_assigned(tree: ast.AST) -> set[str]:
    """Names of `self.x` bound by assignment anywhere in `tree`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        for target in targets:
            for t in target.elts if isinstance(target, ast.Tuple) else [target]:
                if (
                    isinstance(t, ast.Attribute)
                    and isinstance(t.value, ast.Name)
                    and t.value.id == "self"
                ):
                    names.add(t.attr)
    return names


def declared_fields() -> set[str]:
    tree = ast.parse((CORE / "replica_state.py").read_text())
    init = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "__init__"
    )
    return self_fields_assigned(init)


def test_every_field_a_part_writes_is_declared_in_the_state() -> None:
    declared = declared_fields()
    assert len(declared) >= 35
    extra = {p.name: self_fields_assigned(ast.parse(p.read_text())) - declared for p in PARTS}
    assert {k: v for k, v in extra.items() if v} == {}


def test_no_part_imports_the_replica_it_belongs_to() -> None:
    """A part reaches other parts through the state's declarations, never by typing
    itself as `Replica` (the TYPE_CHECKING stub the mixins once used)."""
    offenders = [
        p.name
        for p in PARTS
        if p.name != "replica.py"
        and ("consensus.replica import" in p.read_text() or "TYPE_CHECKING" in p.read_text())
    ]
    assert offenders == []


def test_every_part_is_a_replica_state_and_the_replica_implements_all() -> None:
    parts = [c for c in Replica.__mro__ if c.__name__.endswith("Part")]
    assert len(parts) == 8
    assert all(issubclass(c, ReplicaState) for c in parts)
    assert not getattr(Replica, "__abstractmethods__", frozenset())
