"""The console as its own OS process for the browser tests: `python -m cli.main console
serve` against a real testnet, polled until it answers, stopped by its pid."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.browser.conftest import ROOT, free_port, wait_for


def cli_output(*args: str) -> str:
    """A `govchain` command's stdout, run as its own process (as staff would run it)."""
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextmanager
def console_process(net_root: Path, department: str, log: Path) -> Iterator[str]:
    port = free_port()
    keys = net_root / "keys"
    args = [sys.executable, "-m", "cli.main", "console", "serve", "--dir", str(net_root)]
    args += ["--department", department, "--listen", f"127.0.0.1:{port}"]
    args += ["--department-key", str(keys / f"{department}.tx.key")]
    args += ["--validator-key", str(keys / f"{department}.key")]
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"console exited: {log.read_text()}"
            try:
                with urllib.request.urlopen(url + "/login", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, f"console did not answer: {log.read_text()}"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def console_log_in(browser, url: str, net_root: Path, department: str) -> None:  # type: ignore[no-untyped-def]
    """Log in as staff do: read the page's challenge, sign it with `govchain console
    sign-login` and the department's key file, paste the signature."""
    from selenium.webdriver.common.by import By

    browser.get(url + "/login")
    # a session cookie of another console on 127.0.0.1 (cookies ignore the port) must not
    # decide which page this one shows: start this login from no session at all
    browser.delete_all_cookies()
    browser.get(url + "/login")
    challenge = wait_for(
        lambda: browser.find_element(By.ID, "challenge").text, what="the login challenge"
    )
    key = net_root / "keys" / f"{department}.tx.key"
    signature = cli_output(
        "console",
        "sign-login",
        "--key",
        str(key),
        "--department",
        department,
        "--challenge",
        challenge,
    ).strip()
    browser.find_element(By.ID, "signature").send_keys(signature)
    browser.find_element(By.ID, "login-button").click()
