"""Every limit is documented: each field of ConsensusConfig (genesis) and of Limits (node
config) is named in the README, every node limit is in the README's config example with
its default, and renamed limits keep loading under their old names."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from consensus.config import ConsensusConfig
from node.config import RENAMED_LIMITS, ConfigError, Limits, load_config
from tests.unit.test_node_config import toml, write

README = Path(__file__).resolve().parents[2] / "README.md"
NOT_LIMITS = {"channel", "validators", "genesis_hash"}


@pytest.mark.parametrize(
    "name",
    sorted(
        {f.name for f in dataclasses.fields(ConsensusConfig)} - NOT_LIMITS
        | {f.name for f in dataclasses.fields(Limits)}
    ),
)
def test_every_limit_is_named_in_the_readme(name: str) -> None:
    text = README.read_text()
    assert f"`{name}`" in text or f"{name} = " in text, f"{name} is not documented"


def _readme_limits() -> dict[str, int]:
    """`name = value` lines of the README's `[limits]` example, up to the block's end."""
    text = README.read_text()
    block = text[text.index("[limits]") :]
    block = block[: block.index("```")]
    return {m[1]: int(m[2]) for m in re.finditer(r"^\s*(\w+) = (\d+)", block, re.MULTILINE)}


def test_every_limit_is_in_the_readme_with_its_default() -> None:
    documented = _readme_limits()
    defaults = {f.name: f.default for f in dataclasses.fields(Limits)}
    assert documented == defaults


def test_every_renamed_limit_is_named_in_the_readme() -> None:
    text = README.read_text()
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
