"""The shared web pieces in a real browser: Chinese renders, the page's own script runs
under the content security policy, and a server-sent event stream updates the page live."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.browser.conftest import served, wait_for
from tests.web_sample import sample_app


def test_live_updates_arrive_in_the_page_in_order(browser, shot) -> None:  # type: ignore[no-untyped-def]
    with served(sample_app()) as url:
        browser.get(url + "/")
        status = browser.find_element(By.CSS_SELECTOR, "#m1 [data-field=label]")
        seen = []

        def state() -> str:
            text = status.text
            if not seen or seen[-1] != text:
                seen.append(text)
            return browser.find_element(By.ID, "m1").get_attribute("data-state") or ""

        wait_for(
            lambda: state() == "obtained" and status.text == "区块链获取", what="the second event"
        )
        state()
        shot("web-base")
        assert seen[-1] == "区块链获取"
        assert seen[0] in ("等待中", "拉取中")  # the page rendered before the stream ended
        assert browser.find_element(By.CSS_SELECTOR, "[data-live]").get_attribute("data-live-done")
        # The CSP forbids inline script; nothing else may have been blocked either.
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
