"""The database: where it is, how to open it, and its schema migrations.

A SQLite file in the data folder by default; PostgreSQL (or any SQLAlchemy URL)
through ``RADCYCLE_DATABASE_URL``. The schema is managed by Alembic with the
migrations shipped inside this package, so ``radcycle db upgrade`` works from an
installed wheel as well as from a checkout.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> url = database_url(folder, environ={})
    >>> url.endswith("radcycle.db")
    True
    >>> store = Store.open(url)
    >>> upgrade(store)
    >>> revision(store) == head_revision()
    True
    >>> store.close()
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from radcycle.errors import InputError

__all__ = [
    "ENV_URL",
    "Store",
    "database_url",
    "head_revision",
    "revision",
    "safe_url",
    "upgrade",
]

log = logging.getLogger(__name__)

#: The environment variable naming the database (an SQLAlchemy URL).
ENV_URL = "RADCYCLE_DATABASE_URL"
_MIGRATIONS = Path(__file__).with_name("migrations")


def database_url(data: Path, environ: Mapping[str, str]) -> str:
    """``RADCYCLE_DATABASE_URL`` if set, else a SQLite file in the data folder."""
    given = environ.get(ENV_URL, "").strip()
    if given:
        return given
    return f"sqlite:///{(data / 'radcycle.db').resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never wait for the writer; busy_timeout: writers queue, not fail.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


@dataclass
class Store:
    """An open database: its engine and a session factory."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (not create) the database at ``url``.

        Raises:
            InputError: the URL is not one SQLAlchemy can use.
        """
        try:
            if url.startswith("sqlite"):
                # No cap on connections (max_overflow=-1): a checkout never waits for
                # another thread's connection, so a read on the service's event loop
                # never blocks it; a SQLite connection is a file handle.
                engine = create_engine(
                    url,
                    connect_args={"check_same_thread": False, "timeout": 30},
                    pool_size=10,
                    max_overflow=-1,
                )
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        except (SQLAlchemyError, ValueError, ImportError) as exc:
            raise InputError(f"cannot use the database URL: {exc}", value=safe_url(url)) from exc
        return cls(url, engine, sessionmaker(engine, expire_on_commit=False))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed at the end of the block, or rolled back."""
        with self.sessions() as session, session.begin():
            yield session

    @property
    def local(self) -> bool:
        """The database is a SQLite file read in this process (no server, no network)."""
        return self.engine.dialect.name == "sqlite"

    def close(self) -> None:
        self.engine.dispose()


def safe_url(url: str) -> str:
    """The URL without its password (never logged or printed).

    Example:
        >>> safe_url("postgresql+psycopg://ana:secret@db/radcycle")
        'postgresql+psycopg://ana:***@db/radcycle'
    """
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, cred = head.partition("://")
    user = cred.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}"


def _config(store: Store) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["engine"] = store.engine
    return config


def upgrade(store: Store, target: str = "head") -> None:
    """Bring the schema to ``target`` (the latest by default); idempotent."""
    command.upgrade(_config(store), target)


def revision(store: Store) -> str | None:
    """The schema revision the database is at (None: empty database)."""
    with store.engine.connect() as connection:
        rev = MigrationContext.configure(connection).get_current_revision()
    return rev


def head_revision() -> str:
    """The latest revision shipped with this version of radcycle."""
    script = ScriptDirectory(str(_MIGRATIONS))
    head = script.get_current_head()
    if head is None:
        raise RuntimeError("no migrations shipped")
    return head
