"""Every limit is documented with its default, both ways: docs/operations.md's genesis table
lists exactly the fields of ConsensusConfig (genesis `consensus`) and its `[limits]` table
exactly the fields of Limits (node config), each with the code's default; renamed limits
are named there and keep loading under their old names."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from consensus.config import ConsensusConfig
from node.config import RENAMED_LIMITS, ConfigError, Limits, load_config
from tests.unit.test_node_config import toml, write

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
NOT_LIMITS = {"channel", "validators", "genesis_hash", "hashing"}  # hashing: the suite's


def doc_section(text: str, heading: str) -> str:
    """The text under `heading` (a whole heading line) up to the next heading of any level:
    the tables of one section, and nothing of the next."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("#")), len(lines))
    return "\n".join(lines[start:end])


def documented_defaults(heading: str) -> dict[str, int]:
    """`field` → default of the table under `heading`, whose rows are `| `name` | … |` and
    whose default cell (found by the header row) starts with the number (commas allowed)."""
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in doc_section(DOC.read_text(), heading).splitlines()
        if line.startswith("|")
    ]
    column = rows[0].index("default")
    out = {}
    for cells in rows[2:]:
        name = re.fullmatch(r"`(\w+)`", cells[0])
        assert name, f"{heading}: a row's first cell is not one `field`: {cells[0]!r}"
        value = re.match(r"[\d,]+", cells[column])
        assert value, f"{heading}: {name[1]} has no numeric default: {cells[column]!r}"
        out[name[1]] = int(value[0].replace(",", ""))
    return out


CONSENSUS_DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(ConsensusConfig) if f.name not in NOT_LIMITS
}
NODE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Limits)}
CONSENSUS_TABLE, NODE_TABLE = "### Consensus parameters", "### `[limits]`"


@pytest.mark.parametrize("name", sorted(CONSENSUS_DEFAULTS))
def test_every_genesis_limit_is_documented_with_its_default(name: str) -> None:
    assert documented_defaults(CONSENSUS_TABLE).get(name) == CONSENSUS_DEFAULTS[name]


@pytest.mark.parametrize("name", sorted(NODE_DEFAULTS))
def test_every_node_limit_is_documented_with_its_default(name: str) -> None:
    assert documented_defaults(NODE_TABLE).get(name) == NODE_DEFAULTS[name]


def test_the_limit_tables_list_nothing_the_code_lacks() -> None:
    assert set(documented_defaults(CONSENSUS_TABLE)) == set(CONSENSUS_DEFAULTS)
    assert set(documented_defaults(NODE_TABLE)) == set(NODE_DEFAULTS)


def test_every_renamed_limit_is_named_in_the_docs() -> None:
    text = doc_section(DOC.read_text(), NODE_TABLE)
    for old, new in RENAMED_LIMITS.items():
        assert f"`{old}`" in text and f"`{new}`" in text


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED_LIMITS.items()))
def test_an_old_limit_name_sets_the_new_limit(tmp_path: Path, old: str, new: str) -> None:
    cfg = load_config(write(tmp_path, toml(limits={old: "7"})))
    assert getattr(cfg.limits, new) == 7


def test_a_limit_under_both_its_names_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, toml(limits={"stream_blocks_max": "7", "client_streams_max": "8"}))
    with pytest.raises(
        ConfigError, match="stream_blocks_max is the old name of client_streams_max"
    ):
        load_config(path)
