"""The dashboards and alert rules in deploy/ name only metrics a real node exports: every
metric in their PromQL is looked up in the `/metrics` of a running node (a one-node
testnet, with the CRL `testnet init` writes, so the TLS revocation metrics are there too).
A renamed or removed metric then fails here, not as an empty panel or an alert that can
never fire. The few names from elsewhere (Prometheus' `up`, node_exporter's filesystem
gauges) are listed in EXTERNAL.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import Testnet
from tests.unit.test_alert_rules import promtool

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
PROVIDER = ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "govchain.yaml"
DATASOURCE = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
EXTERNAL = {
    "up": "Prometheus' own health of each scrape target",
    "node_filesystem_avail_bytes": "node_exporter, the host's free disk",
    "node_filesystem_size_bytes": "node_exporter, the host's disk size",
}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers left once strings, label
    matchers, ranges, grouping clauses and Grafana variables are cut out, and that are not
    a function call or a keyword."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{?\w+(?::\w+)?\}?", " ", s)
    found = re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)\s*(\(?)", s)
    return {m[1] for m in found if not m[2] and m[1] not in KEYWORDS}


def panels(items: list[dict]) -> Iterator[dict]:
    """Every panel, including those inside collapsed rows."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def dashboard_exprs(path: Path) -> list[str]:
    """The PromQL of every panel target and every query variable of one dashboard."""
    board = json.loads(path.read_text())
    exprs = [t["expr"] for p in panels(board["panels"]) for t in p.get("targets", [])]
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]
            query = query["query"] if isinstance(query, dict) else query
            exprs.append(re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", query))
    return exprs


def rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def exported_names(text: str) -> set[str]:
    """Every name a query may select from one /metrics page: gauges by name, counters with
    `_total`, histograms by their series. A family is there even with no sample yet (a
    counter of refusals that has counted none)."""
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + s for s in SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


def test_metric_names_reads_promql() -> None:
    expr = (
        'sum by (channel) (rate(govchain_txs_total{status!="ACCEPTED"}[$__rate_interval]))'
        " / on (channel) group_left () max(govchain_height offset 5m) > bool 1e3"
        ' and histogram_quantile(0.9, sum by (le) (rate(x_bucket{a="b(c)"}[5m]))) - time()'
    )
    assert metric_names(expr) == {"govchain_txs_total", "govchain_height", "x_bucket"}


def test_dashboards_are_provisioning_ready() -> None:
    """Two dashboards with fixed uids, every panel on the Prometheus data source variable,
    a provider that loads the folder they are copied to, and a data source the variable can
    pick."""
    assert [p.name for p in DASHBOARDS] == ["govchain-network.json", "govchain-node.json"]
    provider = yaml.safe_load(PROVIDER.read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/govchain"
    assert yaml.safe_load(DATASOURCE.read_text())["datasources"][0]["type"] == "prometheus"
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] and board["title"] and board["id"] is None, path.name
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        for panel in panels(board["panels"]):
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
                assert panel["targets"], panel["title"]


def test_dashboard_queries_parse_under_promtool(tmp_path: Path) -> None:
    """Every panel's PromQL is valid: written as recording rules (Grafana's variables given
    a value) for `promtool check rules`, which parses each expression."""
    values = {"$__rate_interval": "5m", "$instance": "a:9150", "$channel": ".*"}
    rules = []
    for path in DASHBOARDS:
        for i, expr in enumerate(dashboard_exprs(path)):
            for var, value in values.items():
                expr = expr.replace(var, value)
            rules.append({"record": f"dashboard:{path.stem.replace('-', '_')}:{i}", "expr": expr})
    assert "$" not in json.dumps(rules), "a Grafana variable the test gives no value"
    checked = tmp_path / "dashboards.yml"
    checked.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = promtool("check", "rules", str(checked))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    net = Testnet(tmp_path_factory.mktemp("net"), validators=1, channels=("license",), metrics=True)
    try:
        net.start_all()
        url = f"http://127.0.0.1:{net.metrics_base}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            return exported_names(r.read().decode())
    finally:
        net.stop_all()


@pytest.mark.parametrize("source", [*DASHBOARDS, RULES], ids=lambda p: p.name)
def test_every_metric_named_is_exported_by_a_real_node(exported: set[str], source: Path) -> None:
    exprs = rule_exprs() if source == RULES else dashboard_exprs(source)
    named = set().union(*map(metric_names, exprs))
    assert len(named) >= 5, named  # the extraction found the queries at all
    assert named - exported - set(EXTERNAL) == set()
    outside = {n for n in named if not n.startswith(("govchain_", "process_"))}  # node's own
    assert outside <= set(EXTERNAL), outside - set(EXTERNAL)
