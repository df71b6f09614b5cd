"""Driving the kiosk's pages in the browser as a person does: tap the item, type the ID
number, tick the face check, consent, press the pull button — and watch.

`watch_pull` polls the page quickly (one script call reads every row) and records the
sequence of status labels seen per material; the page records its own history too
(kiosk.js: data-history, and data-t-STATE in ms since load), which is what a person saw
even between two polls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.browser.conftest import wait_for

PERSON_ID = "110108198001011237"  # a well-formed ID number (valid check character)
FINAL_LABELS = ("区块链获取", "需扫描", "已扫描", "已拒绝", "失败")
ROWS_JS = """
return Array.from(document.querySelectorAll('tr[data-material][id]')).map(function (r) {
  return [r.getAttribute('data-material'), r.querySelector('[data-field=label]').textContent,
          r.getAttribute('data-history') || '', r.getAttribute('data-t-obtained') || ''];
});
"""


def click(browser: webdriver.Chrome, css: str) -> None:
    browser.find_element(By.CSS_SELECTOR, css).click()


def on_page(browser: webdriver.Chrome, step: str) -> bool:
    return bool(browser.find_elements(By.CSS_SELECTOR, f"li.current[data-step={step}]"))


def choose_item(browser: webdriver.Chrome, url: str, item: str) -> None:
    browser.get(url + "/")
    wait_for(lambda: on_page(browser, "item"), what="the start page")
    click(browser, f"[data-choose='{item}']")
    wait_for(lambda: on_page(browser, "identity"), what="the identity page")


def prove_identity(browser: webdriver.Chrome, company: str) -> None:
    browser.find_element(By.ID, "id_number").send_keys(PERSON_ID)
    browser.find_element(By.ID, "company").send_keys(company)
    click(browser, "#face_match")
    click(browser, "#identity-submit")
    wait_for(lambda: on_page(browser, "consent"), 30, what="the consent page")


def consent(browser: webdriver.Chrome) -> None:
    click(browser, "#consent-confirm")
    wait_for(lambda: on_page(browser, "pull"), 30, what="the pull page")
    wait_for(
        lambda: browser.find_element(By.ID, "pull").get_attribute("data-live"), what="the page"
    )


@dataclass
class PullSeen:
    labels: dict[str, list[str]] = field(default_factory=dict)  # polled, in order
    history: dict[str, str] = field(default_factory=dict)  # the page's own record
    pressed_to_last_obtained_ms: float = 0.0
    polls: int = 0


def watch_pull(browser: webdriver.Chrome, on_chain: int, timeout_s: float = 30.0) -> PullSeen:
    """Press the pull button and poll until `on_chain` materials have a final status."""
    seen = PullSeen()
    click(browser, "#pull-button")
    deadline = time.monotonic() + timeout_s
    while True:
        rows = browser.execute_script(ROWS_JS)
        seen.polls += 1
        for name, label, _, _ in rows:
            labels = seen.labels.setdefault(name, [])
            if not labels or labels[-1] != label:
                labels.append(label)
        finals = [r for r in rows if r[1].split(" ")[0] in FINAL_LABELS and "scan" not in r[2]]
        if len(finals) >= on_chain:
            break
        assert time.monotonic() < deadline, f"the pull did not finish: {rows}"
    wait_for(lambda: browser.find_element(By.ID, "pull").get_attribute("data-done"), what="done")
    rows = browser.execute_script(ROWS_JS)
    seen.history = {name: history for name, _, history, _ in rows}
    pressed = float(browser.find_element(By.ID, "pull").get_attribute("data-pressed-ms"))
    obtained = [float(t) for _, _, _, t in rows if t]
    if obtained:
        seen.pressed_to_last_obtained_ms = max(obtained) - pressed
    return seen


def status_of(browser: webdriver.Chrome, material: str) -> tuple[str, str, str]:
    """(state, label, reason) of one material's row."""
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-material='{material}']")
    label = row.find_element(By.CSS_SELECTOR, "[data-field=label]").text
    reason = row.find_element(By.CSS_SELECTOR, "[data-field=reason]").text
    return row.get_attribute("data-state") or "", label, reason


def severe_log(browser: webdriver.Chrome, expected: str = "") -> list[str]:
    """The browser's SEVERE console entries since the last read (a blocked script, a
    failed request), less the one `expected` names; reading also clears them, so the
    next test starts clean."""
    entries = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    return [m for m in entries if not (expected and expected in m)]
