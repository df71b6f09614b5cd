"""What the kiosk's browser tests stand on: a real 4-validator government testnet seeded
by the demo (licenses anchored, the service item published, the kiosk registered), a
second company with its own licenses (so a denial can be made without touching the
first one's), and the kiosk itself as its own OS process (`python -m cli.main kiosk
serve`), polled until it answers and stopped with SIGTERM.
"""

from __future__ import annotations

import http.cookiejar
import io
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from demo.specs import SPECS
from demo.story import Demo
from protos import government_pb2 as government
from tests.browser.conftest import ROOT, free_port, wait_for
from tests.e2e.harness import Testnet

COMPANY2 = "91110108MA02ABC34X"  # a second company, whose license the denial test revokes


@dataclass
class SecondCompany:
    """Another company holding the same four licenses (its own ids)."""

    code: str
    demo: Demo
    licenses: dict[str, government.License]

    def revoke(self, type_code: str, reason: str) -> None:
        spec = next(s for s in SPECS if s.type_code == type_code)
        self.demo.must(
            "license",
            "license.set_status",
            government.SetLicenseStatus(
                license_id=self.licenses[type_code].license_id,
                status=government.REVOKED,
                reason=reason,
            ),
            self.demo.keys[spec.department],
        )


def second_company(root: Path, first: Demo) -> SecondCompany:
    """The demo's anchoring (rows in each department's own table, anchored by its
    watcher), for COMPANY2."""
    demo = Demo(root, out=io.StringIO())
    demo.company = demo.hall.subject_ref(COMPANY2)
    demo.serial = (first.serial + 1) % 10**8
    return SecondCompany(COMPANY2, demo, demo.anchor_company(COMPANY2, "第二家公司"))


@contextmanager
def seeded_testnet(root: Path, **options: str) -> Iterator[tuple[Testnet, Demo]]:
    """A running 4-validator government testnet (of `options`, e.g. its crypto suite),
    seeded by the demo; stopped on exit."""
    testnet = Testnet(
        root, app="government", view_change_timeout_ticks=20, status_interval_ticks=5, **options
    )
    testnet.start_all()
    try:
        demo = Demo(testnet.root, out=io.StringIO())
        demo.seed()
        yield testnet, demo
    finally:
        testnet.stop_all()


class KioskProcess:
    """`govchain kiosk serve` on a free local port, its output in a log file."""

    def __init__(self, testnet: Path, log: Path, idle_timeout_s: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [
            sys.executable,
            "-m",
            "cli.main",
            "kiosk",
            "serve",
            "--dir",
            str(testnet),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--idle-timeout-s",
            str(idle_timeout_s),
        ]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ)
            )
        wait_for(self.answers, timeout_s=30, what=f"the kiosk on {self.url}")

    def answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the kiosk exited: {self.log.read_text()}")
        try:
            with urllib.request.urlopen(self.url + "/", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def kiosk_process(testnet: Path, log: Path, idle_timeout_s: float) -> Iterator[KioskProcess]:
    kiosk = KioskProcess(testnet, log, idle_timeout_s)
    try:
        yield kiosk
    finally:
        kiosk.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


class HttpVisit:
    """A visit over plain HTTP, redirects not followed: no page script runs for it, so
    no idle timer does either — only the server's own expiry can end it."""

    def __init__(self, url: str, cookie: str | None = None) -> None:
        self.url = url
        self.cookie = cookie  # a fixed session cookie (one taken from the browser)
        self.jar = http.cookiejar.CookieJar()
        handlers = [NoRedirect()] + (
            [] if cookie else [urllib.request.HTTPCookieProcessor(self.jar)]
        )
        self.opener = urllib.request.build_opener(*handlers)

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, Location, body)."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        headers = {"accept": "text/html"}
        if self.cookie:
            headers["cookie"] = f"govchain_session={self.cookie}"
        request = urllib.request.Request(self.url + path, data=body, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as r:
                return r.status, r.headers.get("location", ""), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("location", ""), e.read().decode()

    def csrf(self) -> str:
        page = self.request("/")[2]
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
