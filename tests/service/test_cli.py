"""``radcycle user add``, ``db upgrade``, ``audit verify`` from the command line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app

runner = CliRunner()


def _run(args: list[str], stdin: str = "", env: dict[str, str] | None = None) -> object:
    base = {"RADCYCLE_DATABASE_URL": "", "RADCYCLE_PASSWORD": ""}
    return runner.invoke(build_app(args), args, input=stdin, env={**base, **(env or {})})


def test_db_upgrade_user_add_and_audit_verify(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = _run(["db", "upgrade", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["revision"]
    # the password from standard input, never from the command line
    result = _run(["user", "add", "ana", "--role", "radiologist", "--data", str(data), "--json"],
                  stdin="a long password\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["role"] == "radiologist"
    assert "a long password" not in result.output
    # ... or from RADCYCLE_PASSWORD
    result = _run(["user", "add", "bo", "--role", "viewer", "--data", str(data)],
                  env={"RADCYCLE_PASSWORD": "another long one"})  # fmt: skip
    assert result.exit_code == 0, result.output
    for bad in (
        ["user", "add", "cy", "--role", "surgeon"],
        ["user", "add", "ana", "--role", "viewer"],
    ):
        result = _run([*bad, "--data", str(data)], stdin="a long password\n")
        assert result.exit_code == 2, result.output
        assert result.output.startswith("error:")
    result = _run(["user", "add", "dee", "--role", "viewer", "--data", str(data)], stdin="short\n")
    assert result.exit_code == 2
    result = _run(["audit", "verify", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"ok": True, "entries": 2, "problems": []}
    with sqlite3.connect(data / "radcycle.db") as db:
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    result = _run(["audit", "verify", "--data", str(data)])
    assert result.exit_code == 1
    assert "entry 1: content changed" in result.output


def test_password_is_not_an_option() -> None:
    result = _run(["user", "add", "ana", "--role", "viewer", "--password", "x"])
    assert result.exit_code == 2
    assert "No such option" in result.output


@pytest.mark.parametrize("command", ["serve", "user", "db", "audit"])
def test_commands_are_listed(command: str) -> None:
    assert command in _run(["--help"]).output
