"""Hostile inputs to ``radcycle deid``, ``deid-keygen`` and ``deid-check``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.cases import Case, ids, run_case


def _key(folder: Path, data: bytes) -> Path:
    path = folder / "k.key"
    path.write_bytes(data)
    path.chmod(0o600)  # a readable key file is refused before its content is read
    return path


def _input(folder: Path) -> Path:
    path = folder / "in"
    path.mkdir()
    return path


DEID = [
    Case(
        "key-not-a-key",
        lambda f: [str(_input(f)), "--out", str(f / "out"), "--key", str(_key(f, b"short"))],
        says=r"k\.key.*not a radcycle",
    ),
    Case(
        "key-missing",
        lambda f: [str(_input(f)), "--out", str(f / "out"), "--key", str(f / "none.key")],
        says=r"none\.key",
    ),
]
KEYGEN = [
    Case(
        "never-overwrites", lambda f: ["--out", str(_key(f, b"precious"))], says=r"exists already"
    ),
]
CHECK = [
    Case("input-missing", lambda f: [str(f / "nothere")], says=r"nothere.*not found"),
]
HOSTILE = {"deid": DEID, "deid-keygen": KEYGEN, "deid-check": CHECK}


@pytest.mark.parametrize("case", DEID, ids=ids(DEID))
def test_deid_hostile(case: Case, tmp_path: Path) -> None:
    run_case("deid", case, tmp_path)


@pytest.mark.parametrize("case", KEYGEN, ids=ids(KEYGEN))
def test_keygen_hostile(case: Case, tmp_path: Path) -> None:
    run_case("deid-keygen", case, tmp_path)
    assert (tmp_path / "k.key").read_bytes() == b"precious"


@pytest.mark.parametrize("case", CHECK, ids=ids(CHECK))
def test_check_hostile(case: Case, tmp_path: Path) -> None:
    run_case("deid-check", case, tmp_path)
