"""A real browser for the web tests: Debian's headless Chromium driven by Selenium
through Debian's chromedriver (`make test` installs both where missing, with a CJK font
so Chinese renders as text, not boxes).

Waiting is polling with a deadline (`wait_for`), never a sleep. `shot(name)` keeps a
screenshot of the page: in the test's temp dir always, and in docs/screenshots/ when
GOVCHAIN_SCREENSHOTS=docs (how the README's pictures are made).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
KIOSK_WINDOW = (1280, 1024)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    for path in (CHROMIUM, CHROMEDRIVER):
        assert Path(path).exists(), f"{path} missing: run scripts/system_deps.sh (make test does)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={KIOSK_WINDOW[0]},{KIOSK_WINDOW[1]}",
        "--lang=zh-CN",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(autouse=True)
def fresh_console_log(browser: webdriver.Chrome) -> None:
    """The browser is shared by the session: drop what earlier tests left in its console
    log (e.g. an expected 404), so a test that checks for errors sees only its own."""
    browser.get_log("browser")


def wait_for(predicate: Callable[[], object], timeout_s: float = 15.0, what: str = "") -> object:
    """Poll until `predicate()` is truthy; its value, or a failure naming `what`."""
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # the page may be between states
            last = e
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what or predicate}: {last}")


@pytest.fixture
def shot(browser: webdriver.Chrome, tmp_path: Path) -> Callable[[str], Path]:
    def take(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        browser.save_screenshot(str(path))
        if os.environ.get("GOVCHAIN_SCREENSHOTS") == "docs":
            docs = ROOT / "docs" / "screenshots"
            docs.mkdir(exist_ok=True)
            browser.save_screenshot(str(docs / f"{name}.png"))
        return path

    return take


@contextmanager
def served(app: object) -> Iterator[str]:
    """An ASGI app served by uvicorn on a free local port (in-process, for the shared
    web pieces; the faces themselves run as their own processes in their tests)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, what="uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
