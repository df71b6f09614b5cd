"""docs/operations.md's references match the code, both ways, so they cannot go stale:

- the config file reference lists exactly the fields the node config loader reads (top
  level, `[[peers]]`, `[tls]`, `[limits]`), each with a meaning, a unit and a default, and
  the genesis table exactly the fields the genesis loader reads;
- the metrics table lists exactly the metrics the node registers, with their type and
  labels (counters under their exposed `_total` name);
- the CLI reference has a section for exactly each `govchain` subcommand, listing exactly
  its options and positionals (found by walking the argparse tree), with their defaults.

And elsewhere: docs/node.md lists exactly the modules of node/; every `*.py` and `dir/`
path README.md and docs/*.md name exists; docs/consensus.md shows each event and action
of the core with exactly its fields. (docs/protocol.md has its own test.)
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import re
import typing
from pathlib import Path

import pytest

import consensus.actions
import consensus.events
import node.config
import node.metrics
from cli.main import build_parser
from client.tls import TlsFiles
from node.config import Limits, NodeConfig, Peer
from tests.unit.test_limits_documented import doc_section

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"


def table(text: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table in `text`, as header → cell."""
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    # `\|` inside a cell is an escaped pipe, not a column break.
    split = [
        [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip("|"))]
        for line in lines
    ]
    header = split[0]
    return [dict(zip(header, cells, strict=True)) for cells in split[2:]]


def first_code(cell: str) -> str:
    """The first word inside the cell's first backticks: `--dir DIR` → --dir."""
    match = re.match(r"`([^`]+)`", cell)
    assert match, f"cell does not start with `code`: {cell!r}"
    return match[1].split()[0]


# --- config reference ---------------------------------------------------------------


def _is_data(n: ast.AST | None) -> bool:
    return isinstance(n, ast.Name) and n.id == "data"


def _key_read(n: ast.AST) -> object:
    """The constant key `n` reads from `data`, if it is such a read, else None."""
    if isinstance(n, ast.Call):
        f = n.func
        if isinstance(f, ast.Attribute) and f.attr == "get" and _is_data(f.value):
            return getattr(n.args[0], "value", None)
        if isinstance(f, ast.Name) and f.id == "_require" and _is_data(n.args[0]):
            return getattr(n.args[1], "value", None)
    if isinstance(n, ast.Subscript) and _is_data(n.value):
        return getattr(n.slice, "value", None)
    if isinstance(n, ast.Compare) and isinstance(n.ops[0], ast.In) and _is_data(n.comparators[0]):
        return getattr(n.left, "value", None)
    return None


def keys_read_from_data(*functions: str) -> set[str]:
    """Top-level keys `functions` of node/config.py read from the parsed file (`data`):
    `_require(data, "k")`, `data.get("k")`, `data["k"]` and `"k" in data`."""
    tree = ast.parse(Path(inspect.getsourcefile(node.config) or "").read_text())
    bodies = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name in functions]
    assert len(bodies) == len(functions), f"not all of {functions} found in node/config.py"
    keys = {_key_read(n) for body in bodies for n in ast.walk(body)} - {None}
    return {str(k) for k in keys}


def names(fields: type) -> set[str]:
    return {f.name for f in dataclasses.fields(fields)}


CONFIG_TABLES = {
    "### Top level": lambda: keys_read_from_data("load_config", "_tls"),
    "## Genesis": lambda: keys_read_from_data("load_genesis"),
    "### `[[peers]]`": lambda: names(Peer),
    "### `[tls]`": lambda: names(TlsFiles),
    "### `[limits]`": lambda: names(Limits),
}


def test_the_loader_reads_every_node_config_field() -> None:
    """Keeps the AST reading above honest: every NodeConfig field comes from a key it finds."""
    assert names(NodeConfig) <= keys_read_from_data("load_config", "_tls")


@pytest.mark.parametrize("heading", sorted(CONFIG_TABLES))
def test_config_reference_lists_exactly_the_fields(heading: str) -> None:
    rows = table(doc_section(DOC.read_text(), heading))
    documented = [first_code(r["field"]) for r in rows]
    assert len(documented) == len(set(documented)), f"{heading}: a field is listed twice"
    assert set(documented) == CONFIG_TABLES[heading](), heading
    for r in rows:
        missing = [k for k in ("meaning", "unit", "default") if not r.get(k, "-")]
        assert not missing, f"{heading}: {r['field']} has no {missing}"


# --- metrics ------------------------------------------------------------------------

METRIC_TYPES = {"GaugeMetricFamily": "gauge", "CounterMetricFamily": "counter"}
METRIC_TYPES["Histogram"] = "histogram"


def _labels(call: ast.Call, assigned: dict[str, list[str]]) -> tuple[str, ...]:
    """A metric's labels: the `labels=` keyword or a Histogram's third argument, a list
    literal or a name assigned one in the same function."""
    node_ = next((k.value for k in call.keywords if k.arg == "labels"), None)
    if node_ is None and len(call.args) > 2:
        node_ = call.args[2]
    if node_ is None:
        return ()
    if isinstance(node_, ast.Name):
        return tuple(assigned[node_.id])
    return tuple(ast.literal_eval(node_))


def registered_metrics() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Exposed name → (type, labels) of every metric node/metrics.py constructs."""
    tree = ast.parse(Path(inspect.getsourcefile(node.metrics) or "").read_text())
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        assigned = {
            t.id: ast.literal_eval(a.value)
            for a in ast.walk(func)
            if isinstance(a, ast.Assign) and isinstance(a.value, ast.List)
            for t in a.targets
            if isinstance(t, ast.Name)
        }
        for call in (n for n in ast.walk(func) if isinstance(n, ast.Call)):
            name = getattr(call.func, "id", getattr(call.func, "attr", None))
            if name not in METRIC_TYPES:
                continue
            first = call.args[0]
            assert isinstance(first, ast.Constant), "a metric name must be a literal"
            kind = METRIC_TYPES[name]
            exposed = first.value + ("_total" if kind == "counter" else "")
            out[exposed] = (kind, _labels(call, assigned))
    return out


def test_metrics_table_lists_exactly_the_registered_metrics() -> None:
    rows = table(doc_section(DOC.read_text(), "### Metrics"))
    documented = {
        first_code(r["metric"]): (
            r["type"],
            tuple(x.strip() for x in r["labels"].split(",")) if r["labels"] != "—" else (),
        )
        for r in rows
    }
    assert len(documented) == len(rows), "a metric is listed twice"
    registered = registered_metrics()
    assert len(registered) > 30  # the AST reading found the metrics at all
    assert documented == registered
    assert all(r["meaning"] for r in rows)


# --- CLI reference ------------------------------------------------------------------


def leaf_commands(
    parser: argparse.ArgumentParser, path: str = "govchain"
) -> dict[str, argparse.ArgumentParser]:
    """Every runnable subcommand (a parser without subcommands of its own), by its path."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {path: parser}
    out = {}
    for name, child in subs[0].choices.items():
        out.update(leaf_commands(child, f"{path} {name}"))
    return out


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Each option by its longest flag, each positional by its name in capitals."""
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        key = max(action.option_strings, key=len) if action.option_strings else action.dest
        out[key if action.option_strings else key.upper()] = action
    return out


def documented_commands() -> dict[str, list[dict[str, str]]]:
    """`### \\`govchain …\\`` headings of the CLI reference and their option tables."""
    text = DOC.read_text()
    text = text[text.index("## CLI reference") :]
    out = {}
    for match in re.finditer(r"^### `(govchain[^`]*)`$", text, re.MULTILINE):
        out[match[1]] = table(doc_section(text, match[0]))
    return out


def test_cli_reference_has_exactly_each_subcommand() -> None:
    assert set(documented_commands()) == set(leaf_commands(build_parser()))


@pytest.mark.parametrize("command", sorted(leaf_commands(build_parser())))
def test_cli_reference_lists_exactly_the_options_and_defaults(command: str) -> None:
    rows = documented_commands()[command]
    documented = {first_code(r["option"]): r for r in rows}
    assert len(documented) == len(rows), f"{command}: an option is listed twice"
    actual = options(leaf_commands(build_parser())[command])
    assert set(documented) == set(actual), command
    for key, action in actual.items():
        default = action.default
        if default is None or default is False or isinstance(default, list):
            continue
        shown = str(int(default)) if isinstance(default, float) else str(default)
        assert shown in documented[key]["default"], f"{command} {key}: default {shown}"


# --------------------------------------------------------------------- node modules


def test_node_doc_lists_exactly_the_node_modules() -> None:
    """docs/node.md's "Where each part lives" names each module of node/, once."""
    text = (ROOT / "docs" / "node.md").read_text()
    section = text[text.index("## Where each part lives") :]
    block = section[section.index("```") + 3 :]
    block = block[: block.index("```")]
    listed = [line.split()[0] for line in block.strip().splitlines()]
    modules = sorted(p.name for p in (ROOT / "node").glob("*.py") if p.name != "__init__.py")
    assert sorted(listed) == modules and len(listed) == len(set(listed))


# ------------------------------------------------------------------ paths in the docs

# Directories the docs name that a testnet or deployment script creates, not the tree.
GENERATED_DIRS = {"genesis/", "deploy/net/"}
SKIPPED_DIRS = {".git", ".venv", "testnet", "build", "node_modules"}
PY_PATH = re.compile(r"(?<![\w/<>.*$-])([A-Za-z0-9_][\w./-]*\.py)\b")
DIR_PATH = re.compile(r"(?<![\w/<>.*$-])([A-Za-z_][\w.-]*(?:/[\w.-]+)*/)(?![\w<>.*-])")


def tree_files() -> set[str]:
    """Every file of the source tree, relative to the root (caches and venvs skipped)."""
    out = set()
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if path.is_file() and not any(p in SKIPPED_DIRS or p.startswith(".") for p in parts):
            out.add(path.relative_to(ROOT).as_posix())
    return out


def test_every_path_the_docs_name_exists() -> None:
    """A `dir/file.py` named in README.md or docs/*.md exists at that path, a bare
    `file.py` somewhere in the tree, and a `dir/` is a directory: a rename that leaves a
    document behind fails here."""
    files = tree_files()
    names = {f.rsplit("/", 1)[-1] for f in files}
    missing = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        for path in set(PY_PATH.findall(text)):
            if path not in files if "/" in path else path not in names:
                missing.append(f"{doc.name}: {path}")
        for path in set(DIR_PATH.findall(text)) - GENERATED_DIRS:
            if not (ROOT / path).is_dir():
                missing.append(f"{doc.name}: {path}")
    assert sorted(missing) == []


# ------------------------------------------------------------------ the core's interface


def test_the_consensus_doc_shows_each_event_and_action_with_its_fields() -> None:
    """docs/consensus.md's events/actions table: `Name(field, …)` for each Event and Action
    type, with exactly the dataclass's fields in order."""
    text = (ROOT / "docs" / "consensus.md").read_text()
    table = text[text.index("| events in | actions out |") :]
    table = table[: table.index("\n\n")]
    shown = {name: args.split(", ") for name, args in re.findall(r"`(\w+)\(([^)]*)\)`", table)}
    types_ = [*typing.get_args(consensus.events.Event), *typing.get_args(consensus.actions.Action)]
    assert set(shown) == {t.__name__ for t in types_}
    for t in types_:
        assert shown[t.__name__] == [f.name for f in dataclasses.fields(t)], t.__name__
