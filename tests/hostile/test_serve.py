"""Hostile inputs to the review service's commands: ``serve``, ``user``, ``db``, ``audit``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.cases import Case, ids, run_case


def _file(folder: Path) -> str:
    path = folder / "data"
    path.write_text("not a folder\n")
    return str(path)


def _empty(folder: Path) -> str:
    path = folder / "empty"
    path.mkdir()
    return str(path)


DATA_FILE = r"data: the data folder is a file"

SERVE = [Case("data-is-a-file", lambda f: ["--data", _file(f)], says=DATA_FILE)]
USER = [
    Case("data-is-a-file", lambda f: ["add", "ana", "--role", "viewer", "--data", _file(f)],
         says=DATA_FILE),
    Case("password-empty", lambda f: ["add", "ana", "--role", "viewer", "--data", _empty(f)],
         says=r"password is shorter than"),
    Case("role-unknown", lambda f: ["add", "ana", "--role", "surgeon", "--data", _empty(f)],
         says=r"unknown role 'surgeon'"),
    Case("name-path", lambda f: ["add", "../ana", "--role", "viewer", "--data", _empty(f)],
         says=r"user name is 1-64"),
]  # fmt: skip
DB = [Case("data-is-a-file", lambda f: ["upgrade", "--data", _file(f)], says=DATA_FILE)]
AUDIT = [
    Case("data-is-a-file", lambda f: ["verify", "--data", _file(f)], says=DATA_FILE),
    Case("no-database", lambda f: ["verify", "--data", _empty(f)], says=r"no radcycle database"),
]
URL_CASES = [
    Case("url-unknown-driver", lambda f: ["upgrade", "--data", _empty(f)],
         says=r"cannot use the database URL", never=r"s3cret"),
    Case("url-unreachable", lambda f: ["upgrade", "--data", _empty(f)],
         says=r"cannot open the database", never=r"s3cret"),
]  # fmt: skip
URLS = {
    "url-unknown-driver": "nosuchdb://ana:s3cret@localhost/x",
    "url-unreachable": "postgresql+psycopg://ana:s3cret@/radcycle?host=/nonexistent-socket-dir",
}


@pytest.mark.parametrize("case", SERVE, ids=ids(SERVE))
def test_serve_hostile(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RADCYCLE_DATABASE_URL", raising=False)
    run_case("serve", case, tmp_path)


@pytest.mark.parametrize("case", USER, ids=ids(USER))
def test_user_hostile(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RADCYCLE_DATABASE_URL", raising=False)
    monkeypatch.delenv("RADCYCLE_PASSWORD", raising=False)
    run_case("user", case, tmp_path)


@pytest.mark.parametrize("case", DB, ids=ids(DB))
def test_db_hostile(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RADCYCLE_DATABASE_URL", raising=False)
    run_case("db", case, tmp_path)


@pytest.mark.parametrize("case", URL_CASES, ids=ids(URL_CASES))
def test_database_url_hostile(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADCYCLE_DATABASE_URL", URLS[case.name])
    run_case("db", case, tmp_path)


@pytest.mark.parametrize("case", AUDIT, ids=ids(AUDIT))
def test_audit_hostile(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RADCYCLE_DATABASE_URL", raising=False)
    run_case("audit", case, tmp_path)
    if case.name == "no-database":
        assert list((tmp_path / "empty").iterdir()) == []


HOSTILE = {"serve": SERVE, "user": USER, "db": [*DB, *URL_CASES], "audit": AUDIT}
