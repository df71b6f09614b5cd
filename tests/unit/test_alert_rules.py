"""The Prometheus alert rules in deploy/prometheus/: valid for Prometheus itself
(`promtool check rules`, and the example scrape config with `promtool check config`), and
their logic tested by `promtool test rules` on synthetic series (an alert fires after its
`for:` duration and not before). promtool comes from Debian's `prometheus` package, which
scripts/system_deps.sh installs (`make test` runs it); it is never skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.unit.test_docs_match_code import first_code, table
from tests.unit.test_limits_documented import doc_section

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
RULE_TESTS = PROMETHEUS / "alerts_test.yml"
CONFIG = PROMETHEUS / "prometheus.yml"
DOC = ROOT / "docs" / "operations.md"
SEVERITIES = {"warning", "critical"}
# What issue 15 asks the rules to catch, by alert name.
REQUIRED = {
    "GovchainChannelNotCommitting",  # txs wait in the mempool, the height does not move
    "GovchainNodeLagging",  # behind the highest node of the network
    "GovchainViewChangeStorm",
    "GovchainPeerDown",
    "GovchainDiskFilling",
    "GovchainChannelFailed",
    "GovchainCrlStale",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool; its absence is a setup error (scripts/system_deps.sh), not a skip."""
    exe = shutil.which("promtool")
    assert exe, "promtool missing: run scripts/system_deps.sh (Debian package prometheus)"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_the_rules() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_example_scrape_config() -> None:
    """The example config loads the rules by a relative path and scrapes the compose nets'
    four nodes; promtool checks the rule files it names too."""
    done = promtool("check", "config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr


def test_alert_logic_under_promtool_test_rules() -> None:
    done = promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_cover_what_the_issue_asks_and_say_how_bad() -> None:
    rules = alerts()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "an alert name is used twice"
    assert set(names) >= REQUIRED, REQUIRED - set(names)
    for rule in rules:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_every_required_alert_is_exercised_by_the_rule_tests() -> None:
    """Not every alert needs a synthetic series, but the ones promtool tests are named
    here, so a rename in alerts.yml cannot leave a test that checks nothing."""
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested = {a["alertname"] for case in cases for a in case.get("alert_rule_test", [])}
    assert tested <= {r["alert"] for r in alerts()}
    assert {"GovchainNodeLagging", "GovchainChannelNotCommitting", "GovchainCrlStale"} <= tested


def test_operations_doc_lists_exactly_the_alerts_with_their_severity() -> None:
    rows = table(doc_section(DOC.read_text(), "### Dashboards and alerts"))
    documented = {first_code(row["alert"]): row["severity"] for row in rows}
    assert documented == {r["alert"]: r["labels"]["severity"] for r in alerts()}
