"""Users and their credentials: argon2id password hashes, sessions and API tokens.

Only hashes are stored: argon2id for passwords, SHA-256 for session and token
secrets (random 256-bit values, so a fast hash is enough).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, bindparam, delete, null, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from radcycle.errors import InputError
from radcycle.store.models import ROLES, ApiToken, User, WebSession

__all__ = [
    "MIN_PASSWORD",
    "Credential",
    "add_user",
    "check_password",
    "find_secret",
    "new_secret",
    "revoke_session",
]

MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so both cases take as long.
_DUMMY = _hasher.hash("not a password of anyone")


def _now() -> datetime:
    return datetime.now(UTC)


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def add_user(session: Session, name: str, role: str, password: str) -> User:
    """Add a user.

    Raises:
        InputError: a bad name, an unknown role, a short password, a taken name.
    """
    if not _NAME.match(name):
        raise InputError("a user name is 1-64 letters, digits, '.', '_' or '-'", value=name)
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (one of {', '.join(ROLES)})", value=role)
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password is shorter than {MIN_PASSWORD} characters")
    user = User(name=name, role=role, password_hash=_hasher.hash(password), created=_now())
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise InputError("a user of that name exists", value=name) from exc
    return user


def check_password(session: Session, name: str, password: str) -> User | None:
    """The active user if the password is right, else None (same work either way)."""
    user = session.scalar(select(User).where(User.name == name))
    stored = user.password_hash if user is not None and user.active else _DUMMY
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return user if user is not None and user.active else None


@dataclass(frozen=True)
class Credential:
    """A session or token found by its secret: who holds it (plain data, no ORM object)."""

    user_id: int
    name: str
    role: str
    csrf_token: str | None  # None: an API token
    session_id: int | None


def new_secret(session: Session, user: User, kind: str, lifetime: timedelta) -> tuple[str, str]:
    """A new session (``kind="session"``) or API token (``"token"``).

    Returns:
        The secret (given to the client once) and the CSRF token (sessions; else "").
    """
    secret = secrets.token_urlsafe(32)
    now = _now()
    if kind == "session":
        csrf = secrets.token_urlsafe(32)
        session.add(
            WebSession(
                secret_sha256=_sha(secret),
                csrf_token=csrf,
                user_id=user.id,
                created=now,
                expires=now + lifetime,
            )
        )
        return secret, csrf
    session.add(
        ApiToken(secret_sha256=_sha(secret), user_id=user.id, created=now, expires=now + lifetime)
    )
    return secret, ""


def _aware(when: datetime) -> datetime:
    # SQLite gives back naive datetimes; every time stored is UTC.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# Built once: every authenticated request runs one of these, and a prepared Core statement
# with a bound digest costs a fraction of building an ORM query and loading two objects.
_BY_TOKEN = (
    select(User.id, User.name, User.role, ApiToken.expires, null(), null())
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.secret_sha256 == bindparam("digest"), User.active.is_(True))
)
_BY_SESSION = (
    select(User.id, User.name, User.role, WebSession.expires, WebSession.csrf_token, WebSession.id)
    .join(User, User.id == WebSession.user_id)
    .where(WebSession.secret_sha256 == bindparam("digest"), User.active.is_(True))
)


def find_secret(connection: Session | Connection, secret: str, kind: str) -> Credential | None:
    """The active user of an unexpired session (``kind="session"``) or token, else None.

    One indexed query (the secret's SHA-256 is unique), run on every authenticated request.
    """
    statement = _BY_SESSION if kind == "session" else _BY_TOKEN
    row = connection.execute(statement, {"digest": _sha(secret)}).first()
    if row is None:
        return None
    user_id, name, role, expires, csrf_token, session_id = row
    if _aware(expires) <= _now():
        return None
    return Credential(user_id, name, role, csrf_token, session_id)


def revoke_session(session: Session, secret: str) -> None:
    """End a browser session (logout)."""
    session.execute(delete(WebSession).where(WebSession.secret_sha256 == _sha(secret)))
