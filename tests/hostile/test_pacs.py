"""Hostile inputs to ``radcycle pacs ...`` and ``radcycle listen``: refused before any transfer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.cases import Case, ids, run_case
from tests.pacs.conftest import make_study

# Nothing listens on the discard port of loopback: a request that got that far is refused.
DEAD = ["--pacs", "http://127.0.0.1:9/dicom-web", "--timeout", "2"]


def _text(folder: Path, name: str = "notes.txt") -> Path:
    path = folder / name
    path.write_text("not an image\n")
    return path


def _study(folder: Path) -> str:
    make_study(folder / "study", slices=1)
    return str(folder / "study")


PACS = [
    Case("url-ftp", lambda f: ["find", "--pacs", "ftp://host/x"], says=r"dicom://AET@host:port"),
    Case("url-dimse-no-aet", lambda f: ["echo", "--pacs", "dicom://127.0.0.1:104"]),
    Case(
        "url-dimse-aet-too-long",
        lambda f: ["echo", "--pacs", "dicom://A_TITLE_OF_17_CHARS@127.0.0.1:104"],
        says="1 to 16 characters",
    ),
    Case("find-date-iso", lambda f: ["find", *DEAD, "--date", "2024-01-05"], says="YYYYMMDD"),
    Case("find-limit-zero", lambda f: ["find", *DEAD, "--limit", "0"], says="at least 1"),
    Case(
        "store-text-file",
        lambda f: ["store", str(_text(f)), *DEAD],
        says=r"notes\.txt.*not a DICOM",
    ),
    Case(
        "store-folder-without-dicom",
        lambda f: ["store", str(_text(f).parent), *DEAD],
        says="no DICOM file",
    ),
    Case("store-missing", lambda f: ["store", str(f / "gone.dcm"), *DEAD], says=r"gone\.dcm"),
    Case(
        "retrieve-uid-traversal",
        lambda f: ["retrieve", "../../etc", "--out", str(f / "o"), *DEAD],
        says="not a valid DICOM UID",
    ),
    Case(
        "retrieve-out-exists",
        lambda f: ["retrieve", "1.2.3", "--out", _study(f), *DEAD],
        says="--force",
    ),
    Case(
        "retrieve-out-is-file",
        lambda f: ["retrieve", "1.2.3", "--out", str(_text(f)), *DEAD],
        says="not a folder",
    ),
    Case("echo-unreachable", lambda f: ["echo", *DEAD], says="cannot reach"),
    Case(
        "store-unreachable",
        lambda f: ["store", _study(f), *DEAD],
        says="cannot reach",
    ),
]

LISTEN = [
    Case("analyze-without-out", lambda f: [str(f / "in"), "--analyze"], says="--out"),
    Case("out-without-analyze", lambda f: [str(f / "in"), "--out", str(f / "o")], says="--analyze"),
    Case("port-zero", lambda f: [str(f / "in"), "--port", "0"], says="1 to 65535"),
    Case("quiet-zero", lambda f: [str(f / "in"), "--quiet-seconds", "0"], says="more than 0"),
    Case("folder-is-a-file", lambda f: [str(_text(f))], says="not a folder"),
    Case(
        "out-inside-the-folder",
        lambda f: [str(f / "in"), "--analyze", "--out", str(f / "in" / "results")],
        says="overlaps",
    ),
    Case("aet-empty", lambda f: [str(f / "in"), "--aet", " "], says="1 to 16 characters"),
]


@pytest.mark.parametrize("case", PACS, ids=ids(PACS))
def test_pacs_hostile(case: Case, tmp_path: Path) -> None:
    run_case("pacs", case, tmp_path)


@pytest.mark.parametrize("case", LISTEN, ids=ids(LISTEN))
def test_listen_hostile(case: Case, tmp_path: Path) -> None:
    run_case("listen", case, tmp_path)
    assert not (tmp_path / "in").exists() or not any((tmp_path / "in").iterdir())


HOSTILE = {"pacs": PACS, "listen": LISTEN}
