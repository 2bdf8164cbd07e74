"""Sessions, CSRF tokens and the login rate limit of the console.

Sessions live only in the daemon's memory, keyed by a random token that the browser holds
in a Secure, HttpOnly, SameSite=Strict cookie; a restart logs everyone out. Every session
carries its own CSRF token, which each form posts back and which is compared in constant
time. Before login, the form's token is checked against a short-lived cookie instead.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

SESSION_COOKIE = "mukaika_session"
LOGIN_COOKIE = "mukaika_login"
CSRF_FIELD = "csrf_token"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(expected: str, given: str | None) -> bool:
    return bool(expected) and given is not None and hmac.compare_digest(expected.encode(), given.encode())


@dataclass
class Session:
    user: str
    csrf: str = field(default_factory=new_token)
    last_seen: float = 0.0


class Sessions:
    def __init__(self, idle_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._by_token: dict[str, Session] = {}

    def open(self, user: str) -> tuple[str, Session]:
        token = new_token()
        session = self._by_token[token] = Session(user, last_seen=self.clock())
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session for ``token`` (its idle clock restarted), or None if unknown or idle too long."""
        if not token:
            return None
        session = self._by_token.get(token)
        now = self.clock()
        if session is None:
            return None
        if now - session.last_seen > self.idle_seconds:
            del self._by_token[token]
            return None
        session.last_seen = now
        return session

    def close(self, token: str | None) -> None:
        if token:
            self._by_token.pop(token, None)

    def close_user(self, user: str) -> None:
        for token in [t for t, s in self._by_token.items() if s.user == user]:
            del self._by_token[token]


class LoginLimiter:
    """At most ``max_failures`` failed logins per (user, address) within ``window_seconds``."""

    def __init__(
        self, max_failures: int, window_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def blocked(self, user: str, remote: str) -> bool:
        key = (user.lower(), remote)
        if not self._recent(key):
            del self._failures[key]  # keep only keys with recent failures: guessed names must not pile up
            return False
        return len(self._failures[key]) >= self.max_failures

    def failed(self, user: str, remote: str) -> None:
        self._recent((user.lower(), remote)).append(self.clock())

    def succeeded(self, user: str, remote: str) -> None:
        self._failures.pop((user.lower(), remote), None)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= self.clock() - self.window_seconds:
            times.popleft()
        return times
