"""The store on SQLite and PostgreSQL: migrations, users, the hash-chained audit log."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, select, text, update

from radcycle.errors import InputError
from radcycle.store import audit
from radcycle.store.db import Store, head_revision, revision, upgrade
from radcycle.store.models import AuditEntry, Base
from radcycle.store.users import add_user, check_password, find_secret, new_secret


@pytest.fixture
def store(database_url: str) -> Store:
    opened = Store.open(database_url)
    upgrade(opened)
    yield opened
    opened.close()


def test_migrations_build_exactly_the_models(store: Store) -> None:
    assert revision(store) == head_revision()
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    upgrade(store)  # idempotent
    assert revision(store) == head_revision()


def test_passwords_are_argon2_and_checked(store: Store) -> None:
    with store.session() as session:
        user = add_user(session, "ana", "radiologist", "a long password")
        assert user.password_hash.startswith("$argon2id$")
        assert "a long password" not in user.password_hash
    with store.session() as session:
        assert check_password(session, "ana", "a long password") is not None
        assert check_password(session, "ana", "a long passworD") is None
        assert check_password(session, "nobody", "a long password") is None
    for name, role, password in [
        ("../x", "viewer", "long enough pw"),
        ("bo", "surgeon", "long enough pw"),
        ("bo", "viewer", "short"),
        ("ana", "viewer", "long enough pw"),
    ]:
        with pytest.raises(InputError), store.session() as session:
            add_user(session, name, role, password)


def test_expired_secrets_are_refused(store: Store) -> None:
    from datetime import timedelta

    with store.session() as session:
        user = add_user(session, "ana", "viewer", "a long password")
        live, _ = new_secret(session, user, "token", timedelta(hours=1))
        dead, _ = new_secret(session, user, "token", timedelta(seconds=-1))
        cookie, csrf = new_secret(session, user, "session", timedelta(hours=1))
    with store.session() as session:
        assert find_secret(session, live, "token") is not None
        assert find_secret(session, dead, "token") is None
        assert find_secret(session, live, "session") is None  # a token is not a session
        found = find_secret(session, cookie, "session")
        assert found is not None
        assert found.csrf_token == csrf


def _chain(store: Store, n: int = 5) -> None:
    for i in range(n):
        with store.session() as session:
            audit.append(session, "ana", "report.edit", f"case {i}", {"version": i})


def test_an_intact_chain_verifies(store: Store) -> None:
    _chain(store)
    with store.session() as session:
        report = audit.verify_chain(session)
    assert report.ok
    assert report.entries == 5


def _broken(store: Store) -> list[str]:
    with store.session() as session:
        return audit.verify_chain(session).problems


def test_a_changed_entry_is_detected(store: Store) -> None:
    _chain(store)
    with store.session() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="mallory"))
    assert any("entry 3: content changed" in p for p in _broken(store))


def test_a_deleted_entry_is_detected(store: Store) -> None:
    _chain(store)
    with store.session() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    problems = _broken(store)
    assert any("entry 3" in p and "deleted" in p for p in problems)


def test_a_deleted_tail_is_detected(store: Store) -> None:
    _chain(store)
    with store.session() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
    assert any("head records entry 5" in p for p in _broken(store))


def test_reordered_entries_are_detected(store: Store) -> None:
    _chain(store)
    with store.session() as session:
        rows = {r.seq: r for r in session.scalars(select(AuditEntry))}
        two, four = rows[2], rows[4]
        fields = ("at", "actor", "action", "target", "details", "prev_hash", "hash")
        a = {f: getattr(two, f) for f in fields}
        b = {f: getattr(four, f) for f in fields}
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(**b))
        session.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(**a))
    problems = _broken(store)
    assert any("reordered" in p for p in problems)


def test_concurrent_appends_chain_one_after_another(store: Store) -> None:
    import threading

    def work(n: int) -> None:
        for i in range(10):
            with store.session() as session:
                audit.append(session, f"user{n}", "view", f"case {i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.session() as session:
        report = audit.verify_chain(session)
        count = session.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    assert report.ok, report.problems
    assert count == 40
