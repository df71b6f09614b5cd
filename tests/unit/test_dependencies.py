"""Which package may import which: the design's arrows, held by a test (architecture.md, the
purity test for consensus/ generalised). Arrows run one way, from the outside in:

    protos  <-  consensus  <-  sim  <-  bench, scripts
                consensus  <-  storage, chains  <-  client  <-  node  <-  cli  <-  bench, demo
                               chains  <-  sources  <-  node, demo      <-  scripts, tests
    crypto (the crypto suites; nothing of ours)  <-  sim, chains, client, node, cli, bench, scripts

A new import against this table fails here. An arrow that must run backwards for a
while is listed in KNOWN_BACKWARD with what removes it, and a test checks that each is
still there, so the list can only shrink (it is empty now). tests/ may import anything;
nothing outside tests/ imports tests/.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "protos",
    "crypto",
    "consensus",
    "sim",
    "storage",
    "chains",
    "sources",
    "client",
    "node",
    "cli",
    "bench",
    "demo",
    "web",
    "scripts",
)
ALLOWED: dict[str, set[str]] = {
    "protos": set(),
    # the crypto suites (issue 14); the core is handed a suite's signer and verifier
    "crypto": set(),
    "consensus": {"protos"},
    "sim": {"consensus", "crypto", "protos"},
    "storage": {"consensus", "protos"},  # the core's record types, for their codec
    "chains": {"consensus", "crypto", "protos"},
    # the SDK: a client runs where no validator does, so it never needs the node; it
    # checks evidence bundles with the core's own hashing and certificate checks
    "client": {"chains", "consensus", "crypto", "protos"},
    # the node dials its peers with the SDK's TLS identity and channel options
    # a department's own records: read-only adapters, commitments made with chains' formula
    "sources": {"chains", "protos"},
    "node": {"client", "consensus", "crypto", "storage", "chains", "sources", "protos"},
    "cli": {
        "client",
        "node",
        "consensus",
        "crypto",
        "storage",
        "chains",
        "sources",
        "protos",
        "web",
    },
    # the faces people meet; clients of the network like any other
    "web": {"client", "chains", "consensus", "protos"},
    # bench/messages.py counts consensus messages per block in the simulator (issue 16)
    "bench": {"cli", "client", "node", "chains", "crypto", "sim", "sources", "protos"},
    "demo": {"cli", "client", "node", "chains", "protos"},
    "scripts": {"cli", "client", "node", "bench", "sim", "chains", "protos", "crypto"},
}
# (from, to) -> what removes it. Empty now: add an arrow here only with its way out.
KNOWN_BACKWARD: dict[tuple[str, str], str] = {}


def imports_of(package: str) -> dict[str, set[str]]:
    """Package -> the files of `package` that import it (generated protobuf code aside)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top != package and (top in PACKAGES or top == "tests"):
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


EDGES = {package: imports_of(package) for package in PACKAGES}


def test_every_import_between_packages_follows_the_table() -> None:
    wrong = {
        f"{package} -> {target}": sorted(files)
        for package, targets in EDGES.items()
        for target, files in targets.items()
        if target not in ALLOWED[package] and (package, target) not in KNOWN_BACKWARD
    }
    assert wrong == {}


def test_every_allowed_arrow_is_used_so_the_table_says_what_is_imported() -> None:
    """The table documents the design as built: an allowed arrow nothing uses is removed
    (and added back, with its reason, by the change that needs it)."""
    unused = {
        f"{package} -> {target}"
        for package, targets in ALLOWED.items()
        for target in targets
        if target not in EDGES[package]
    }
    assert unused == set()


def test_each_known_backward_arrow_is_still_there_so_the_list_only_shrinks() -> None:
    gone = [edge for edge in KNOWN_BACKWARD if edge[1] not in EDGES[edge[0]]]
    assert gone == [], "remove these from KNOWN_BACKWARD: they are fixed"


def test_the_allowed_arrows_have_no_cycle() -> None:
    state: dict[str, int] = {}

    def visit(package: str, path: list[str]) -> None:
        if state.get(package) == 1:
            raise AssertionError(f"cycle: {' -> '.join([*path, package])}")
        if state.get(package) == 2:
            return
        state[package] = 1
        for target in ALLOWED.get(package, ()):
            visit(target, [*path, package])
        state[package] = 2

    for package in ALLOWED:
        visit(package, [])


def test_every_package_says_what_it_is_for() -> None:
    for package in [p for p in PACKAGES if p != "scripts"]:
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
        assert doc and len(doc) > 80, f"{package}/__init__.py has no docstring saying its job"


def test_every_package_docstring_names_each_of_its_modules() -> None:
    """The docstring is the package's map: a module it does not name is one a reader
    cannot place (generated protobuf code and scripts aside)."""
    unnamed = {}
    for package in [p for p in PACKAGES if p not in ("scripts", "protos")]:
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
        modules = sorted(p.name for p in (ROOT / package).glob("*.py"))
        missing = [m for m in modules if m not in ("__init__.py", "__main__.py") and m not in doc]
        if missing:
            unnamed[package] = missing
    assert unnamed == {}


def may_import(doc: str) -> set[str]:
    """The packages a docstring's "May import:" sentence names (notes in parentheses and
    whatever follows the sentence aside)."""
    text = doc.split("May import:", 1)[1]
    depth, end = 0, len(text)
    for i, c in enumerate(text):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0 and (c == ";" or (c == "." and text[i + 1 : i + 2] in (" ", "\n", ""))):
            end = i
            break
    kept, depth = [], 0
    for c in text[:end]:
        depth += c == "("
        if depth == 0:
            kept.append(c)
        depth -= c == ")"
    words = "".join(kept).replace("`", " ").replace(",", " ").split()
    return {w for w in words if w in PACKAGES}


def test_every_package_docstring_says_exactly_what_it_may_import() -> None:
    said = {}
    for package in [p for p in PACKAGES if p != "scripts"]:
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
        assert "May import:" in doc, f"{package}/__init__.py does not say what it may import"
        said[package] = may_import(doc)
    assert said == {p: ALLOWED[p] for p in said}


def test_the_architecture_doc_shows_this_table() -> None:
    """docs/architecture.md's package table says exactly what ALLOWED says."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    documented: dict[str, set[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`") and cells[0].endswith("`"):
            may = set() if cells[2] == "—" else {c.strip() for c in cells[2].split(",")}
            documented[cells[0].strip("`")] = may
    assert documented == ALLOWED


def test_nothing_outside_tests_imports_tests() -> None:
    users = {package: sorted(EDGES[package].get("tests", ())) for package in PACKAGES}
    assert {k: v for k, v in users.items() if v} == {}
