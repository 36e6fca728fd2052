"""Hostile inputs to ``radcycle synth`` and ``radcycle demo``: impossible sizes, bad outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.cases import Case, ids, run_case


def _file(folder: Path) -> Path:
    path = folder / "a-file"
    path.write_text("not a folder")
    return path


SYNTH = [
    Case(
        "no-timepoints",
        lambda f: ["--out", str(f / "p"), "--timepoints", "0"],
        says=r"timepoints.*0",
    ),
    Case(
        "one-slice", lambda f: ["--out", str(f / "p"), "--slices", "1"], says=r"slices.*16 and 400"
    ),
    Case("output-is-a-file", lambda f: ["--out", str(_file(f))], says=r"a-file"),
]
DEMO = [
    Case("output-is-a-file", lambda f: ["--out", str(_file(f))], says=r"a-file.*Not a directory"),
]
HOSTILE = {"synth": SYNTH, "demo": DEMO}


@pytest.mark.parametrize("case", SYNTH, ids=ids(SYNTH))
def test_synth_hostile(case: Case, tmp_path: Path) -> None:
    run_case("synth", case, tmp_path)


@pytest.mark.parametrize("case", DEMO, ids=ids(DEMO))
def test_demo_hostile(case: Case, tmp_path: Path) -> None:
    run_case("demo", case, tmp_path)
