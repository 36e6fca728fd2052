"""Who is asking, and may they: sessions, bearer tokens, CSRF, roles, login rate limit.

* Browser: ``POST /login`` sets the ``radcycle_session`` cookie (HttpOnly,
  SameSite=Strict, Secure behind TLS). Every state-changing request made with the
  cookie must carry the session's CSRF token (form field ``csrf_token`` or header
  ``X-CSRF-Token``); a mismatch is 403 and nothing is done.
* API: ``Authorization: Bearer <token>`` (``POST /api/tokens``); no cookie, no CSRF.
* Every route declares the roles it admits with :func:`require`; a missing or
  expired credential is 401, a wrong role 403.
* Failed logins are limited per user name and client address (429 beyond).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from radcycle.service.reads import read
from radcycle.store.models import ROLES
from radcycle.store.users import find_secret

__all__ = [
    "COOKIE",
    "LoginLimiter",
    "Principal",
    "check_csrf",
    "require",
]

COOKIE = "radcycle_session"
_SAFE = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request."""

    user_id: int
    name: str
    role: str
    csrf_token: str | None  # None: a bearer token (no CSRF)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticate(request: Request) -> Principal | None:
    """The request's user, from its bearer token or session cookie (None: neither valid).

    Checked against the database on every request (one indexed query, no cache): a
    revoked session, an expired token, a deactivated user or a changed role takes
    effect on the next request.
    """
    store = request.app.state.store
    token = _bearer(request)
    secret, kind = (token, "token") if token else (request.cookies.get(COOKIE), "session")
    if not secret:
        return None
    with store.engine.connect() as connection:
        found = find_secret(connection, secret, kind)
    if found is None:
        return None
    return Principal(found.user_id, found.name, found.role, found.csrf_token)


async def check_csrf(request: Request, principal: Principal) -> None:
    """Refuse a cookie-authenticated state change without the session's CSRF token."""
    if request.method in _SAFE or principal.csrf_token is None:
        return
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if not given or not hmac.compare_digest(given, principal.csrf_token):
        raise HTTPException(403, "missing or wrong CSRF token")


def require(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting only ``roles`` (admin is always admitted).

    Raises (in the route):
        HTTPException: 401 without a valid credential, 403 for another role or a
            bad CSRF token.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    admitted = {*roles, "admin"}

    async def dependency(request: Request) -> Principal:
        principal = await read(request.app.state.store, authenticate, request)
        if principal is None:
            raise HTTPException(401, "not signed in", headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in admitted:
            raise HTTPException(403, f"the {principal.role} role may not do this")
        await check_csrf(request, principal)
        request.state.principal = principal
        return principal

    dependency.admitted_roles = tuple(sorted(admitted))  # type: ignore[attr-defined]
    return dependency


class LoginLimiter:
    """At most ``attempts`` failed logins per key in a sliding ``window_s``."""

    def __init__(self, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        queue = self._failures.setdefault(key, deque())
        while queue and now - queue[0] > self.window_s:
            queue.popleft()
        return queue

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= self.attempts

    def failed(self, key: str) -> None:
        with self._lock:
            self._recent(key, time.monotonic()).append(time.monotonic())

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
