"""Every limit is documented: each field of ConsensusConfig (genesis) and of Limits (node
config) is named in the README, where operators look for it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from consensus.config import ConsensusConfig
from node.config import Limits

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
NOT_LIMITS = {"channel", "validators", "genesis_hash"}


@pytest.mark.parametrize(
    "name",
    sorted(
        {f.name for f in dataclasses.fields(ConsensusConfig)} - NOT_LIMITS
        | {f.name for f in dataclasses.fields(Limits)}
    ),
)
def test_every_limit_is_named_in_the_readme(name: str) -> None:
    assert f"`{name}`" in README or f"{name} = " in README, f"{name} is not documented"
