"""Hostile inputs to ``radcycle fl``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fl.conftest import write_patients
from tests.hostile.cases import Case, ids, run_case


def _mixed(folder: Path) -> Path:
    source = write_patients(folder / "source", 5)
    (source / "notes.txt").write_text("not a patient\n")
    (source / "empty-folder").mkdir()
    return source


def _fold(folder: Path, folds: str, fold: str) -> list[str]:
    source = write_patients(folder / "s", 6)
    return ["make-sites", str(source), "--out", str(folder / "o"), "--folds", folds, "--fold", fold]


def _simulate_with_cv(folder: Path, text: str) -> list[str]:
    from radcycle.fl.sites import make_sites

    make_sites(write_patients(folder / "p", 5), folder / "sites")
    (folder / "cv.json").write_text(text)
    sites = [a for n in ("north", "east", "south") for a in ("--sites", str(folder / "sites" / n))]
    return ["simulate", *sites, "--cv-result", str(folder / "cv.json"), "--out", str(folder / "m")]


CASES = [
    Case(
        "source-missing",
        lambda f: ["make-sites", str(f / "nothere"), "--out", str(f / "sites")],
        says=r"nothere",
    ),
    Case(
        "source-without-patients",
        lambda f: ["make-sites", str(f), "--out", str(f.parent / "sites-x")],
        says=r"no patient folder",
    ),
    Case(
        "out-inside-source",
        lambda f: ["make-sites", str(write_patients(f / "s", 5)), "--out", str(f / "s" / "o")],
        says=r"overlaps",
    ),
    Case(
        "too-few-patients",
        lambda f: ["make-sites", str(write_patients(f / "s", 3)), "--out", str(f / "o")],
        says=r"3 patients cannot make",
    ),
    Case(
        "fold-out-of-range",
        lambda f: _fold(f, "3", "3"),
        says=r"fold 3 of 3",
    ),
    Case(
        "cv-result-not-json",
        lambda f: _simulate_with_cv(f, "{not json"),
        says=r"unreadable cross-validation result",
    ),
    Case(
        "cv-result-without-the-arm",
        lambda f: _simulate_with_cv(f, '{"summary": {"centralised": {}}}'),
        says=r"no arm trained as this model \(FedAvg\)",
    ),
    Case(
        "mixed-folder",
        lambda f: ["make-sites", str(_mixed(f)), "--out", str(f / "o"), "--random-seed", "1"],
        exit_code=0,
        says=r"held-out\s+1 patients",
        never=r"notes|empty-folder",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_fl_hostile(case: Case, tmp_path: Path) -> None:
    run_case("fl", case, tmp_path)
    if (tmp_path / "s").exists():
        assert not (tmp_path / "s" / "o").exists()


HOSTILE = {"fl": CASES}
