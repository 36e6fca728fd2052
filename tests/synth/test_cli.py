"""``radcycle synth`` through the real typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app


def test_synth_writes_a_patient(tmp_path: Path) -> None:
    out = tmp_path / "p"
    args = [
        "synth",
        "--out",
        str(out),
        "--random-seed",
        "4",
        "--timepoints",
        "2",
        "--slices",
        "16",
        "--matrix",
        "64",
    ]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "truth.json").read_text())
    assert truth["seed"] == 4
    assert len(truth["timepoints"]) == 2
    for tp in truth["timepoints"]:
        assert tp["folder"] in result.output
        assert len(list((out / tp["folder"]).glob("*.dcm"))) == 16
    assert "L1" in result.output


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--timepoints", "0"], "timepoints"),
        (["--slices", "5"], "slices"),
        (["--slices", "5000"], "slices"),
    ],
)
def test_synth_rejects_bad_arguments(tmp_path: Path, args: list[str], word: str) -> None:
    result = CliRunner().invoke(build_app(), ["synth", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code == 2
    assert word in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_synth_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("x")
    args = [
        "synth",
        "--out",
        str(tmp_path),
        "--slices",
        "16",
        "--matrix",
        "64",
        "--timepoints",
        "1",
    ]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 2
    assert "did not write" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
