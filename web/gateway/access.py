"""Who may call the gateway, and how often: named, scoped API tokens and a token bucket
per token.

A caller presents `Authorization: Bearer TOKEN`. The gateway knows each token only by its
SHA-256 (compared in constant time), so neither the config file nor a log can leak one.
Reads need scope `read`; sessions, grants and pulls need `write`. A token that is over
its rate gets 429 with Retry-After, in whole seconds, until its bucket refills.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable, Iterable

from fastapi import HTTPException, Request

from web.gateway.config import Rate, Token, hash_token

BEARER = "bearer "


class TokenBucket:
    """`burst` calls at once, refilled at `per_s` per second; thread-safe."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.clock = rate, clock
        self.tokens = float(rate.burst)
        self.at = clock()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0 if a call may go ahead now (one token taken), else the seconds until one may."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.rate.burst, self.tokens + (now - self.at) * self.rate.per_s)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate.per_s


class Access:
    """The gateway's tokens and their buckets."""

    def __init__(
        self, tokens: Iterable[Token], rate: Rate, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.tokens = tuple(tokens)
        self.buckets = {t.name: TokenBucket(rate, clock) for t in self.tokens}

    def identify(self, authorization: str | None) -> Token:
        """The token an Authorization header presents, or 401 saying what is wrong."""
        if not authorization:
            raise unauthorized("no API token: send the header Authorization: Bearer TOKEN")
        if not authorization.lower().startswith(BEARER):
            raise unauthorized("the Authorization header must be: Bearer TOKEN")
        digest = hash_token(authorization[len(BEARER) :].strip())
        found = None
        for t in self.tokens:  # every token compared, in constant time each
            if hmac.compare_digest(t.sha256, digest):
                found = t
        if found is None:
            raise unauthorized("unknown API token")
        return found

    def admit(self, authorization: str | None, scope: str) -> Token:
        """The caller's token if it has `scope` and is within its rate; else 401/403/429."""
        token = self.identify(authorization)
        if scope not in token.scopes:
            raise HTTPException(
                403, f"the token of {token.name!r} has no {scope!r} scope for this call"
            )
        wait_s = self.buckets[token.name].take()
        if wait_s > 0:
            raise HTTPException(
                429,
                f"the token of {token.name!r} is over its rate; retry later",
                headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
            )
        return token


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def require(scope: str) -> Callable[[Request], Token]:
    """A route dependency: the caller's token, with `scope`, within its rate."""

    def dependency(request: Request) -> Token:
        access: Access = request.app.state.access
        return access.admit(request.headers.get("authorization"), scope)

    dependency.__name__ = f"require_{scope}"
    return dependency
