"""Logging in with the department's key: a challenge-response, then a session.

The login page shows a fresh random challenge the server remembers (single use, two
minutes). Staff sign "govchain-console-login|<department>|<challenge>" with the
department's tx key where that key lives (`govchain console sign-login`) and paste the
hex signature; the server checks it against the department's registered public keys (the
channels' genesis `departments` section). Success puts the department and the time of
the last request in the signed session cookie; a session idle longer than the timeout is
over. The challenge names the department in the signed bytes, so a signature for one
department's console cannot log in to another's.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable

from client.txs import TxKey, signature_verifies

CHALLENGE_TTL_S = 120.0
CHALLENGES_MAX = 10_000  # outstanding challenges; the oldest are dropped beyond this
PREFIX = "govchain-console-login"
SESSION_KEY = "console"


class LoginRefused(ValueError):
    """Why a login failed, fit to show on the page; `status` is the HTTP status to answer
    with (400: malformed input, 403: a well-formed login that is refused)."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


def login_message(department: str, challenge: str) -> bytes:
    return f"{PREFIX}|{department}|{challenge}".encode()


def sign_login(key: TxKey, department: str, challenge: str) -> str:
    """The hex signature staff paste into the login page, by the department's key of the
    chain's suite (an SM2 signature is r‖s, 64 bytes, as an Ed25519 one)."""
    signed = key.sign(login_message(department, challenge))
    return (signed.signature if hasattr(key, "verify_key") else signed).hex()


class Challenges:
    """Outstanding login challenges: issued at random, each usable once, until it expires."""

    def __init__(
        self, ttl_s: float = CHALLENGE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s, self.clock = ttl_s, clock
        self._issued: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        challenge = secrets.token_hex(16)
        with self._lock:
            now = self.clock()
            for old in [c for c, t in self._issued.items() if now - t > self.ttl_s]:
                del self._issued[old]
            while len(self._issued) >= CHALLENGES_MAX:
                del self._issued[next(iter(self._issued))]
            self._issued[challenge] = now
        return challenge

    def take(self, challenge: str) -> None:
        """Use a challenge up; LoginRefused if it was never issued, is used or expired."""
        with self._lock:
            issued = self._issued.pop(challenge, None)
        if issued is None:
            raise LoginRefused(
                "this challenge is unknown or was already used; reload the login page for a new one"
            )
        if self.clock() - issued > self.ttl_s:
            raise LoginRefused(
                f"this challenge expired (it is valid for {self.ttl_s:.0f} s); reload the "
                "login page for a new one"
            )


def check_signature(
    department: str, challenge: str, signature_hex: str, keys: Iterable[bytes]
) -> None:
    """LoginRefused unless the signature is one of the department's keys' over the message."""
    try:
        signature = bytes.fromhex(signature_hex.strip())
    except ValueError:
        raise LoginRefused("the signature must be hex (128 hex digits)", 400) from None
    if len(signature) != 64:
        raise LoginRefused(f"a signature is 64 bytes (128 hex digits), not {len(signature)}", 400)
    message = login_message(department, challenge)
    for key in keys:  # Ed25519 keys, or SM2 ones on an sm2-sm3 chain
        if signature_verifies(key, message, signature):
            return
    raise LoginRefused(
        f"the signature does not verify with any key registered for {department}: sign "
        "this challenge with the department's key"
    )


def logged_in(session: dict, department: str, idle_s: float, now: float | None = None) -> bool:
    """Whether the session is this department's and not idle too long; touches it."""
    entry = session.get(SESSION_KEY)
    now = time.time() if now is None else now
    if not isinstance(entry, dict) or entry.get("department") != department:
        return False
    last = entry.get("seen")
    if not isinstance(last, (int, float)) or now - last > idle_s:
        session.pop(SESSION_KEY, None)
        return False
    entry["seen"] = now
    session[SESSION_KEY] = entry
    return True


def start_session(session: dict, department: str, now: float | None = None) -> None:
    session.clear()  # a new session: nothing from before the login (CSRF token included)
    session[SESSION_KEY] = {"department": department, "seen": time.time() if now is None else now}
