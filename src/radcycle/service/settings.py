"""How the review service runs: one settings object, read from the CLI and environment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

__all__ = ["ServiceSettings"]


@dataclass(frozen=True)
class ServiceSettings:
    """Settings of :func:`radcycle.service.app.create_app`.

    Args:
        data: the data folder (cases, uploads, the SQLite file by default).
        database_url: the SQLAlchemy URL of the store.
        secure_cookies: send cookies only over HTTPS (set behind a TLS proxy).
        session_lifetime: how long a browser session lasts.
        token_lifetime: how long an API token lasts.
        max_upload_bytes: the largest upload accepted (all files of one request).
        login_attempts: failed logins allowed per name and address in ``login_window``.
        login_window: the window of the login rate limit.
        roots: server folders a job may read from (none: any folder the server can read).
        run_worker: run the analysis worker in this process.
    """

    data: Path
    database_url: str
    secure_cookies: bool = False
    session_lifetime: timedelta = timedelta(hours=8)
    token_lifetime: timedelta = timedelta(hours=12)
    max_upload_bytes: int = 512 * 1024 * 1024
    login_attempts: int = 5
    login_window: timedelta = timedelta(minutes=5)
    roots: tuple[Path, ...] = ()
    run_worker: bool = True

    @property
    def cases(self) -> Path:
        return self.data / "cases"

    @property
    def uploads(self) -> Path:
        return self.data / "uploads"
