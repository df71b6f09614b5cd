"""The web kiosk on a government testnet of the national (国密) suite (`testnet init
--crypto-suite sm2-sm3`), in a real browser: `govchain kiosk serve --dir` takes the suite
from the testnet's genesis, so the kiosk signs its identity check, consent, case and
attachments with SM2 terminal keys, its pull requests with the department's SM2 key, and
opens the SM2-sealed values against their SM3 commitments. Identity, consent, the
one-click pull with all four chain materials obtained, the scan, submission, the receipt,
and the receipt's evidence bundle verified offline as an `sm2-sm3` bundle.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.state import ChainState
from crypto import suite_by_name
from demo.specs import COMPANY_ID, ITEM, SPECS
from demo.story import Demo
from tests.browser.conftest import wait_for
from tests.browser.kiosk_net import KioskProcess, kiosk_process, seeded_testnet
from tests.browser.kiosk_pages import (
    choose_item,
    click,
    consent,
    on_page,
    prove_identity,
    severe_log,
    status_of,
    watch_pull,
)
from tests.browser.test_kiosk import SCAN, check_evidence_offline
from tests.e2e.harness import Testnet

SM3 = suite_by_name("sm2-sm3")


@pytest.fixture(scope="module")
def sm2_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Testnet, Demo]]:
    root = tmp_path_factory.mktemp("kiosk-sm2") / "net"
    with seeded_testnet(root, crypto_suite="sm2-sm3") as (testnet, demo):
        assert demo.suite.name == "sm2-sm3"  # the demo took the suite from the genesis
        yield testnet, demo


@pytest.fixture(scope="module")
def sm2_kiosk(sm2_net, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskProcess]:  # type: ignore[no-untyped-def]
    log = tmp_path_factory.mktemp("kiosk-sm2-log") / "kiosk.log"
    with kiosk_process(sm2_net[0].root, log, idle_timeout_s=120) as k:
        yield k


def test_the_web_kiosk_runs_the_whole_flow_on_an_sm2_sm3_testnet(  # type: ignore[no-untyped-def]
    browser, shot, sm2_kiosk, sm2_net, tmp_path: Path
) -> None:
    _, demo = sm2_net
    choose_item(browser, sm2_kiosk.url, ITEM)
    prove_identity(browser, COMPANY_ID)
    consent(browser)
    seen = watch_pull(browser, on_chain=len(SPECS))
    shot("kiosk-sm2-pulled")
    for spec in SPECS:
        assert status_of(browser, spec.name)[0] == "obtained", seen.labels
    click(browser, "[data-scan]")
    wait_for(lambda: status_of(browser, SCAN)[0] == "scanned", what="the scan recorded")
    case = browser.find_element("id", "case-number").text
    click(browser, "#submit-button")
    wait_for(lambda: on_page(browser, "receipt"), 30, what="the receipt")
    assert browser.find_element("id", "receipt-case").text == case
    links = browser.find_elements("css selector", "a[data-evidence]")
    assert len(links) == len(SPECS)
    shot("kiosk-sm2-receipt")
    state = ChainState(demo.stub)
    submitted = state.case(case)
    assert submitted is not None and submitted.status == "submitted"
    assert len(submitted.attachments) == len(SPECS) + 1
    scan = next(a for a in submitted.attachments if a.source == "scan")
    assert scan.evidence_hash == SM3.hash(f"scan:{case}:{SCAN}".encode())  # SM3, not SHA-256
    pulled = [a for a in submitted.attachments if a.source != "scan"]
    assert all(a.evidence_hash == SM3.hash(a.access_tx_id) for a in pulled)
    bundle = tmp_path / "bundle.json"
    check_evidence_offline(browser, links[0].get_attribute("href"), bundle)
    data = json.loads(bundle.read_text())
    assert data["crypto_suite"] == "sm2-sm3"
    assert severe_log(browser) == []
