"""The kiosk in a real browser against a real 4-validator government testnet: the whole
flow from choosing the item to the receipt, each material's status seen changing live;
a denial shown with its reason; the idle timeout returning to the start and leaving the
old session unusable. The kiosk runs as its own process (`govchain kiosk serve`).

Screenshots of each step: `shot("kiosk-…")` (into docs/screenshots/ with
GOVCHAIN_SCREENSHOTS=docs). The time from pressing the pull button to the last 区块链获取,
as the page recorded it, is printed (median of three pulls), not asserted.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from client.state import ChainState
from demo.specs import COMPANY_ID, ITEM, SPECS
from demo.story import Demo
from tests.browser.conftest import ROOT, wait_for
from tests.browser.console_process import console_log_in, console_process
from tests.browser.kiosk_net import (
    HttpVisit,
    KioskProcess,
    SecondCompany,
    kiosk_process,
    second_company,
    seeded_testnet,
)
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

SCAN = "仓储设施照片 storage photos"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Testnet, Demo]]:
    with seeded_testnet(tmp_path_factory.mktemp("kiosk") / "net") as seeded:
        yield seeded


@pytest.fixture(scope="module")
def kiosk(net, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskProcess]:  # type: ignore[no-untyped-def]
    log = tmp_path_factory.mktemp("kiosk-log") / "kiosk.log"
    with kiosk_process(net[0].root, log, idle_timeout_s=120) as k:
        yield k
    text = log.read_text()
    assert PERSON_ID not in text and COMPANY_ID not in text, "an ID number reached the log"


def pull_page(browser, kiosk: KioskProcess, company: str) -> None:  # type: ignore[no-untyped-def]
    choose_item(browser, kiosk.url, ITEM)
    prove_identity(browser, company)
    consent(browser)


def test_the_whole_flow_from_item_to_receipt_live(browser, shot, kiosk, net, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, demo = net
    browser.get(kiosk.url + "/")
    items = browser.find_element(By.CSS_SELECTOR, f"[data-item='{ITEM}']").text
    assert "农药经营许可" in items and "链上" in items and "BL01" in items and "需扫描" in items
    shot("kiosk-1-item")
    click(browser, f"[data-choose='{ITEM}']")
    wait_for(lambda: on_page(browser, "identity"), what="the identity page")
    shot("kiosk-2-identity")  # before anything is typed: no ID number in a picture
    prove_identity(browser, COMPANY_ID)
    groups = browser.find_elements(By.CSS_SELECTOR, "[data-department]")
    assert sorted(g.get_attribute("data-department") for g in groups) == sorted(
        s.department for s in SPECS
    )
    assert "BL01/uscc" in browser.page_source and "有效期" in browser.page_source
    shot("kiosk-3-consent")
    consent(browser)
    assert status_of(browser, SPECS[0].name)[1].startswith("等待中")
    assert status_of(browser, SCAN)[1].startswith("需扫描")
    shot("kiosk-4-pull")
    seen = watch_pull(browser, on_chain=len(SPECS))
    shot("kiosk-5-pulled")
    print(f"\nkiosk pull, polled {seen.polls} times: {json.dumps(seen.labels, ensure_ascii=False)}")
    print(f"page history: {seen.history}")
    print(f"pressed -> last 区块链获取: {seen.pressed_to_last_obtained_ms:.0f} ms")
    for spec in SPECS:
        labels = [label.split(" ")[0] for label in seen.labels[spec.name]]
        assert labels[-1] == "区块链获取", (spec.name, labels)
        assert "拉取中" in labels and labels.index("拉取中") < labels.index("区块链获取"), labels
        history = seen.history[spec.name].split(">")
        assert history.index("pulling") < history.index("obtained"), history
        state, _, _ = status_of(browser, spec.name)
        time_cell = browser.find_element(By.CSS_SELECTOR, f"tr[data-material='{spec.name}'] .time")
        assert state == "obtained" and time_cell.text.endswith(" s")
    case = browser.find_element(By.ID, "case-number").text
    assert browser.find_element(By.ID, "submit-button").get_attribute("disabled")  # scan due
    click(browser, "[data-scan]")
    wait_for(lambda: status_of(browser, SCAN)[0] == "scanned", what="the scan recorded")
    click(browser, "#submit-button")
    wait_for(lambda: on_page(browser, "receipt"), 30, what="the receipt")
    assert browser.find_element(By.ID, "receipt-case").text == case
    links = browser.find_elements(By.CSS_SELECTOR, "a[data-evidence]")
    assert len(links) == len(SPECS)
    shot("kiosk-6-receipt")
    submitted = ChainState(demo.stub).case(case)
    assert submitted is not None and submitted.status == "submitted"
    assert len(submitted.attachments) == len(SPECS) + 1
    check_evidence_offline(browser, links[0].get_attribute("href"), tmp_path / "bundle.json")
    assert severe_log(browser) == []  # nothing blocked by the CSP, no request failed
    PULLED["case"] = case


PULLED: dict[str, str] = {}  # what the whole-flow test did, for the console to find


def test_the_console_audit_shows_the_pull_the_kiosk_just_made(browser, net, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Staff of the requesting department, in their console on the same network, see the
    pull the citizen just made at the kiosk: one granted access per material, by case."""
    testnet, _ = net
    assert PULLED, "runs after the whole-flow test"
    with console_process(testnet.root, "agriculture", tmp_path / "console.log") as url:
        console_log_in(browser, url, testnet.root, "agriculture")
        wait_for(lambda: browser.current_url.endswith("/network"), what="the console")
        browser.get(url + "/audit")
        Select(browser.find_element(By.ID, "kind")).select_by_value("company")
        browser.find_element(By.ID, "id_number").send_keys(COMPANY_ID)
        browser.find_element(By.ID, "audit-button").click()
        wait_for(lambda: browser.find_elements(By.ID, "trail"), what="the audit trail")
        rows = browser.find_elements(By.CSS_SELECTOR, "tr.access-row[data-outcome=granted]")
        ours = [r for r in rows if PULLED["case"] in r.text]
        assert len(ours) == len(SPECS), [r.text for r in rows]


def check_evidence_offline(browser, href: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    """The receipt's bundle, fetched by the page itself, verifies with no node."""
    text = browser.execute_async_script(
        "var done = arguments[1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text()).then(done);",
        href,
    )
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "verify-evidence", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "VERIFIED" in result.stdout, result.stdout + result.stderr


def test_a_denial_is_shown_with_its_reason(browser, shot, kiosk, net) -> None:  # type: ignore[no-untyped-def]
    testnet, demo = net
    other: SecondCompany = second_company(testnet.root, demo)
    pull_page(browser, kiosk, other.code)
    # after the consent, before the pull: the premises certificate is revoked on chain
    other.revoke("PREM01", "premises closed")
    seen = watch_pull(browser, on_chain=len(SPECS))
    revoked = next(s.name for s in SPECS if s.type_code == "PREM01")
    state, label, reason = status_of(browser, revoked)
    assert state == "denied" and label.startswith("已拒绝") and "revoked" in reason, reason
    shot("kiosk-denied")
    assert all(
        status_of(browser, s.name)[0] == "obtained" for s in SPECS if s.type_code != "PREM01"
    ), seen.labels
    assert browser.find_element(By.ID, "submit-button").get_attribute("disabled")
    assert severe_log(browser) == []


def test_pull_time_median_of_three(browser, kiosk) -> None:  # type: ignore[no-untyped-def]
    figures = []
    for _ in range(3):
        pull_page(browser, kiosk, COMPANY_ID)
        figures.append(watch_pull(browser, on_chain=len(SPECS)).pressed_to_last_obtained_ms)
    print(
        f"\nkiosk: pressing 一键拉取 -> last 区块链获取 in the browser: median "
        f"{statistics.median(figures):.0f} ms of {', '.join(f'{f:.0f}' for f in figures)} ms"
    )


def test_idle_timeout_returns_to_start_and_the_old_session_is_unusable(  # type: ignore[no-untyped-def]
    browser, shot, net, tmp_path
) -> None:
    with kiosk_process(net[0].root, tmp_path / "kiosk.log", idle_timeout_s=3) as short:
        quiet = at_consent_over_http(short.url)  # goes idle while the browser works
        choose_item(browser, short.url, ITEM)
        prove_identity(browser, COMPANY_ID)
        old = HttpVisit(short.url, cookie=browser.get_cookie("govchain_session")["value"])
        csrf = browser.find_element(By.NAME, "csrf_token").get_attribute("value")
        wait_for(
            lambda: "ended=idle" in browser.current_url and on_page(browser, "item"),
            20,
            what="the idle timeout to bring the start page back",
        )
        assert "会话已清除" in browser.find_element(By.ID, "notice").text
        shot("kiosk-7-idle")
        # the cookie the browser held before the timeout reaches nothing any more
        assert old.request("/consent")[:2] == (303, "/?ended=1")
        data = {"decision": "confirm", "csrf_token": csrf}
        assert old.request("/consent", data)[:2] == (303, "/?ended=1")
        browser.get(short.url + "/consent")
        assert "没有进行中的办理" in browser.page_source and "有效期" not in browser.page_source
        assert severe_log(browser, expected="/consent - Failed to load resource") == []
        # the visit no script kept alive was wiped by the server itself
        assert quiet.request("/consent")[:2] == (303, "/?ended=1")


def at_consent_over_http(url: str) -> HttpVisit:
    visit = HttpVisit(url)
    csrf = visit.csrf()
    assert visit.request("/item", {"item_code": ITEM, "csrf_token": csrf})[:2] == (
        303,
        "/identity",
    )
    data = {"id_number": PERSON_ID, "face_match": "yes", "csrf_token": csrf}
    assert visit.request("/identity", data)[:2] == (303, "/consent")
    assert visit.request("/consent")[0] == 200
    return visit
