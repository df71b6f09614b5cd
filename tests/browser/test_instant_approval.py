"""秒批 seen by a citizen and by staff, in a real browser, on a real 4-validator testnet:
agriculture has set the permit item's approval rule (the demo's); the kiosk (its own
process) takes a complete case through the one-click pull and its receipt says it was
approved instantly in the block that holds the submission, by which rule version; a case
the rule does not approve (an optional material the rule wants was left out) gets a
receipt telling why in plain Chinese and English. Agriculture's console (its own process)
shows the first case's decision, block and rule, and the second's failures with the
manual decision still open.

Screenshots: kiosk-instant-approval, kiosk-rule-not-met, console-case-instant,
console-case-rule-not-met (into docs/screenshots/ with GOVCHAIN_SCREENSHOTS=docs).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from client.state import ChainState
from demo.specs import COMPANY_ID, ITEM, SPECS
from demo.story import SCAN, Demo
from protos import government_pb2 as government
from tests.browser.conftest import wait_for
from tests.browser.console_process import console_log_in, console_process
from tests.browser.kiosk_net import kiosk_process
from tests.browser.kiosk_pages import (
    PERSON_ID,
    choose_item,
    click,
    consent,
    on_page,
    prove_identity,
    severe_log,
    status_of,
    watch_pull,
)
from tests.e2e.harness import Testnet

REPORT = "年度报告 annual report"  # optional, scanned: the rule wants every material
DEPARTMENT = "agriculture"
FAST = {"view_change_timeout_ticks": 20, "status_interval_ticks": 5}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo's chain with agriculture's rule (v1), the kiosk and agriculture's console."""
    base = tmp_path_factory.mktemp("instant")
    net = Testnet(base / "net", app="government", **FAST)
    net.start_all()
    try:
        demo = Demo(net.root, out=io.StringIO())
        demo.seed()
        rule = demo.publish_rule()
        with (
            kiosk_process(net.root, base / "kiosk.log", idle_timeout_s=120) as kiosk,
            console_process(net.root, DEPARTMENT, base / "console.log") as console,
        ):
            faces = {"kiosk": kiosk.url, "console": console}
            yield {"net": net, "demo": demo, "rule": rule, "cases": {}, **faces}
    finally:
        net.stop_all()


def submit_at_kiosk(browser, url: str) -> str:  # type: ignore[no-untyped-def]
    """The whole kiosk visit for the demo company, scanning only the storage photos;
    the case number, on the receipt page."""
    choose_item(browser, url, ITEM)
    prove_identity(browser, COMPANY_ID)
    consent(browser)
    watch_pull(browser, on_chain=len(SPECS))
    case = browser.find_element(By.ID, "case-number").text
    click(browser, f"tr[data-material='{SCAN}'] [data-scan]")
    wait_for(lambda: status_of(browser, SCAN)[0] == "scanned", what="the scan recorded")
    click(browser, "#submit-button")
    wait_for(lambda: on_page(browser, "receipt"), 30, what="the receipt")
    assert browser.find_element(By.ID, "receipt-case").text == case
    return case


def test_the_receipt_says_approved_instantly_in_which_block_by_which_rule(
    browser, shot, world
) -> None:  # type: ignore[no-untyped-def]
    case = submit_at_kiosk(browser, world["kiosk"])
    result = ChainState(world["demo"].stub).case_result(case)
    assert result is not None and result.rule_version == world["rule"]
    shown = browser.find_element(By.ID, "decision")
    assert shown.get_attribute("data-decision") == "approved"
    assert shown.get_attribute("data-height") == str(result.height)
    expected = f"approved instantly (秒批) in block {result.height} by rule v{world['rule']}"
    assert expected in shown.text and "已秒批" in shown.text
    shot("kiosk-instant-approval")
    assert severe_log(browser) == []
    world["cases"]["instant"] = case
    finish(browser)


def test_the_receipt_tells_why_the_rule_did_not_approve(browser, shot, world) -> None:  # type: ignore[no-untyped-def]
    demo: Demo = world["demo"]
    materials = demo.hall.state.materials(ITEM)
    assert materials is not None
    report = government.Material(name=REPORT, required=False, scan=True)
    republished = government.Materials(item_code=ITEM, materials=[*materials.materials, report])
    demo.must("service", "service.publish_materials", republished, demo.keys[DEPARTMENT])
    case = submit_at_kiosk(browser, world["kiosk"])  # the optional report left out
    shown = browser.find_element(By.ID, "decision")
    assert shown.get_attribute("data-decision") == "manual"
    failures = browser.find_elements(By.CSS_SELECTOR, "#rule-failures li")
    assert [f.get_attribute("data-material") for f in failures] == [REPORT]
    assert "未提交" in failures[0].text and "not handed in" in failures[0].text
    assert f"Rule v{world['rule']} did not approve it" in shown.text
    shot("kiosk-rule-not-met")
    found = ChainState(demo.stub).case(case)
    assert found is not None and found.status == "submitted"
    world["cases"]["manual"] = case
    finish(browser)


def finish(browser) -> None:  # type: ignore[no-untyped-def]
    """End the visit and wait until the kiosk is back at its start: a next test that
    navigated away while the reset was in flight saw it logged as a failed request."""
    click(browser, "#finish")
    wait_for(lambda: "ended=" in browser.current_url, what="the kiosk's start page")


def test_the_console_shows_the_decision_or_the_failures(browser, shot, world) -> None:  # type: ignore[no-untyped-def]
    console = world["console"]
    console_log_in(browser, console, world["net"].root, DEPARTMENT)
    wait_for(lambda: browser.current_url.endswith("/network"), what="the network page")
    instant, manual = world["cases"]["instant"], world["cases"]["manual"]
    result = ChainState(world["demo"].stub).case_result(instant)
    assert result is not None
    browser.get(f"{console}/cases/{instant}")
    cell = browser.find_element(By.ID, "rule-decision")
    assert cell.get_attribute("data-decision") == "instant"
    assert f"auto-approved by rule v{world['rule']}, in block {result.height}" in cell.text
    assert result.rule_hash.hex() in cell.text
    assert browser.find_element(By.ID, "case-status").text == "approved"
    assert not browser.find_elements(By.ID, "decide")  # nothing left for a person
    shot("console-case-instant")
    browser.get(f"{console}/cases/{manual}")
    cell = browser.find_element(By.ID, "rule-decision")
    assert cell.get_attribute("data-decision") == "manual"
    told = cell.find_element(By.CSS_SELECTOR, f"#rule-failures li[data-material='{REPORT}']")
    assert "not handed in" in told.text
    assert browser.find_element(By.ID, "decide")  # staff decide it by hand
    shot("console-case-rule-not-met")
    assert severe_log(browser) == []


def test_no_id_number_reached_the_faces_logs(world) -> None:  # type: ignore[no-untyped-def]
    base: Path = world["net"].root.parent
    for log in ("kiosk.log", "console.log"):
        text = (base / log).read_text()
        assert PERSON_ID not in text and COMPANY_ID not in text, log
