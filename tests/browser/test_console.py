"""The department console in a real browser, against a real 4-validator government
testnet, the console running as its own process.

The testnet is seeded by the demo (licenses anchored, the service item published) and a
kiosk flow runs through the SDK: a session, consent, a case, the one-click pull of four
materials, the materials attached and the case submitted. Then agriculture's staff log
in with a challenge signed by `govchain console sign-login` (a wrong signature first),
watch the network page update live, verify a tx's proof and certificate in the explorer
(and see a wrong block or a wrong tx id refused), find the kiosk's pulls in the audit
trail, approve the case, and approve a governance proposal made with the CLI.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from cli.main import main as cli
from client.state import ChainState
from demo.specs import COMPANY_ID
from demo.story import SCAN, Demo
from protos import api_pb2 as api
from protos import government_pb2 as government
from tests.browser.conftest import wait_for
from tests.browser.console_process import console_log_in, console_process
from tests.e2e.harness import Testnet

DEPARTMENT = "agriculture"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("console")
    net = Testnet(
        base / "net", app="government", view_change_timeout_ticks=20, status_interval_ticks=5
    )
    net.start_all()
    try:
        demo = Demo(net.root, out=io.StringIO())
        anchored = demo.seed()
        _, grant_id, case = demo.kiosk_session()
        demo.one_click_pull(grant_id, case, anchored)
        demo.hall.attach_and_submit(case, demo.pulled[case], {SCAN: b"scan"})
        with console_process(net.root, DEPARTMENT, base / "console.log") as url:
            yield {"net": net, "demo": demo, "case": case, "url": url}
    finally:
        net.stop_all()


def log_in(browser, world: dict[str, Any], signature: str | None = None) -> None:  # type: ignore[no-untyped-def]
    if signature is None:
        console_log_in(browser, world["url"], world["net"].root, DEPARTMENT)
        return
    browser.get(world["url"] + "/login")
    browser.find_element(By.ID, "signature").send_keys(signature)
    browser.find_element(By.ID, "login-button").click()


def ensure_logged_in(browser, world: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    browser.get(world["url"] + "/network")
    if browser.current_url.endswith("/login"):
        log_in(browser, world)
        wait_for(lambda: browser.current_url.endswith("/network"), what="the network page")


def test_login_refuses_a_wrong_signature_and_accepts_the_department_key(
    browser, world, shot
) -> None:  # type: ignore[no-untyped-def]
    browser.delete_all_cookies()
    log_in(browser, world, "ab" * 64)
    problem = wait_for(lambda: browser.find_element(By.ID, "problem").text, what="the refusal")
    assert "登录失败" in problem and "does not verify" in problem
    shot("console-login")
    log_in(browser, world)
    wait_for(lambda: browser.current_url.endswith("/network"), what="the network page")


def test_network_shows_four_nodes_and_heights_update_live(browser, world, shot) -> None:  # type: ignore[no-untyped-def]
    ensure_logged_in(browser, world)
    browser.get_log("browser")  # drain: the login test's refusal was a 403 on purpose
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.node-row[data-node]")
    assert {r.get_attribute("data-node") for r in rows} == set(world["demo"].nodes)
    assert len({r.get_attribute("data-node") for r in rows}) == 4
    cell = browser.find_element(By.CSS_SELECTOR, f"#row-{DEPARTMENT}-catalog [data-field=height]")
    before = int(cell.text)
    demo = world["demo"]
    duty = government.RegisterDuty(code="DUTY-LIVE", name="live", legal_basis="statute")
    demo.ensure("catalog", "catalog.register_duty", duty, demo.keys[DEPARTMENT])
    wait_for(lambda: int(cell.text) > before, what="the height to rise in the page")
    shot("console-network")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []  # the CSP blocked nothing


def access_tx(world: dict[str, Any]) -> tuple[str, int]:
    """The id and height of one of the kiosk's RecordAccess txs (from its block)."""
    stub = world["demo"].stub
    for height in range(1, 100):
        b = stub.GetBlock(api.GetBlockRequest(channel="authorization", height=height), timeout=5)
        for raw in b.block.block.txs:
            env = api.TxEnvelope.FromString(raw)
            if api.TxBody.FromString(env.body).type == "authorization.record_access":
                return hashlib.sha256(raw).hexdigest(), height
    raise AssertionError("no record_access tx")


def checks_on_page(browser) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.check")
    return {r.get_attribute("data-check"): r.get_attribute("data-ok") == "yes" for r in rows}


def test_explorer_verifies_a_proof_and_refuses_a_wrong_one(browser, world, shot) -> None:  # type: ignore[no-untyped-def]
    ensure_logged_in(browser, world)
    tx_id, height = access_tx(world)
    browser.get(f"{world['url']}/explorer?channel=authorization")
    browser.find_element(By.CSS_SELECTOR, f"a[href$='/block/{height}']").click()
    browser.find_element(By.CSS_SELECTOR, f"a[href$='/tx/{tx_id}']").click()
    wait_for(lambda: browser.find_element(By.ID, "tx-id").text == tx_id, what="the tx page")
    checks = checks_on_page(browser)
    assert len(checks) == 7 and all(checks.values()), checks
    assert "authorization.record_access" in browser.find_element(By.TAG_NAME, "h1").text
    shot("console-tx")
    other = height - 1 if height > 1 else height + 1  # a block the tx is not in
    browser.get(f"{world['url']}/explorer/authorization/tx/{tx_id}?at_height={other}")
    checks = checks_on_page(browser)
    assert checks["merkle proof"] is False and checks["commit certificate"] is True
    assert "✗" in browser.find_element(By.CSS_SELECTOR, "[data-check='merkle proof']").text
    browser.get(f"{world['url']}/explorer/authorization/tx/{'0' * 64}")
    assert "未找到" in browser.page_source and "no tx" in browser.page_source
    browser.get(f"{world['url']}/explorer?channel=authorization")
    shot("console-explorer")


def test_audit_trail_shows_the_kiosk_pull(browser, world, shot) -> None:  # type: ignore[no-untyped-def]
    ensure_logged_in(browser, world)
    browser.get(world["url"] + "/audit")
    Select(browser.find_element(By.ID, "kind")).select_by_value("company")
    browser.find_element(By.ID, "id_number").send_keys(COMPANY_ID)
    browser.find_element(By.ID, "audit-button").click()
    wait_for(lambda: browser.find_elements(By.ID, "trail"), what="the trail")
    assert browser.find_element(By.ID, "subject-ref").text == world["demo"].company.hex()
    assert COMPANY_ID not in browser.page_source and COMPANY_ID not in browser.current_url
    pulls = browser.find_elements(By.CSS_SELECTOR, "tr.access-row[data-outcome=granted]")
    assert len(pulls) >= 4 and all(world["case"] in r.text for r in pulls)
    assert all(DEPARTMENT in r.text for r in pulls)
    assert browser.find_elements(By.CSS_SELECTOR, "tr.grant-row")
    shot("console-audit")


def test_a_case_is_approved_from_the_console(browser, world, shot) -> None:  # type: ignore[no-untyped-def]
    ensure_logged_in(browser, world)
    case = world["case"]
    browser.get(world["url"] + "/cases")
    shot("console-cases")
    browser.find_element(By.CSS_SELECTOR, f"a[href='/cases/{case}']").click()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#accesses tr.access-row")) >= 4
    browser.find_element(By.ID, "approve").click()
    wait_for(lambda: browser.find_element(By.ID, "case-status").text == "approved", what="approval")
    shot("console-case")
    found = ChainState(world["demo"].stub).case(case)
    assert found is not None and found.status == "approved"


def test_a_governance_proposal_is_approved_from_the_console(
    browser, world, shot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ensure_logged_in(browser, world)
    net: Testnet = world["net"]
    proposals = net.root / "proposals"
    proposals.mkdir(exist_ok=True)
    path = proposals / "add-validator.json"
    node = ["--node", world["demo"].nodes["public-security"], "--tls", str(net.root / "tls")]
    change = ["--add-validator", "11" * 32, "--address", "127.0.0.1:1"]
    assert (
        cli(["governance", "propose", *node, "--channel", "catalog", *change, "--out", str(path)])
        == 0
    )
    first = str(net.root / "keys" / "public-security.key")
    assert cli(["governance", "approve", str(path), "--key", first]) == 0
    browser.get(world["url"] + "/governance")
    row = browser.find_element(By.CSS_SELECTOR, "tr.proposal-row[data-name='add-validator.json']")
    assert "1 / 3" in row.text and row.get_attribute("data-approved") == "no"
    row.find_element(By.CSS_SELECTOR, "button.approve").click()
    wait_for(lambda: browser.find_elements(By.ID, "done"), what="the approval")
    row = browser.find_element(By.CSS_SELECTOR, "tr.proposal-row[data-name='add-validator.json']")
    assert row.get_attribute("data-approved") == "yes" and "2 / 3" in row.text
    shot("console-governance")
    ours = (net.root / "keys" / f"{DEPARTMENT}.key").read_text().strip()
    public = bytes(nacl.signing.SigningKey(bytes.fromhex(ours)).verify_key).hex()
    approvals = json.loads(path.read_text())["approvals"]
    assert public in {a["validator"] for a in approvals} and len(approvals) == 2
