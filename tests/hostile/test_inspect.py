"""Hostile inputs to ``radcycle inspect``: header text that looks like markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.cases import Case, chest_array, dicom_series, ids, run_case


def _described(folder: Path, text: str) -> list[str]:
    def edit(ds: object, k: int) -> None:
        ds.SeriesDescription = text  # type: ignore[attr-defined]
        ds.PatientName = text  # type: ignore[attr-defined]

    return [str(dicom_series(folder / "ct", chest_array((3, 16, 16)), edit))]


CASES = [
    Case("closing-tag", lambda f: _described(f, "CHEST [/] W/O"), 0, r"CHEST \[/\] W/O"),
    Case("style-tag", lambda f: _described(f, "[bold red]x[/bold red]"), 0, r"\[bold red\]x"),
    Case("link-tag", lambda f: _described(f, "[link=http://x]y"), 0, r"\[link=http://x\]y"),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_inspect_hostile(case: Case, tmp_path: Path) -> None:
    run_case("inspect", case, tmp_path)


HOSTILE = {"inspect": CASES}
