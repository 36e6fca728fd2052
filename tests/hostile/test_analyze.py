"""Hostile inputs to ``radcycle analyze``: no images, broken side files, outputs over inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.hostile.cases import Case, ids, raw_nifti, run_case


def _empty(folder: Path) -> Path:
    path = folder / "study"
    path.mkdir(exist_ok=True)
    (path / "notes.txt").write_text("no images here\n")
    return path


def _nifti(folder: Path) -> Path:
    return raw_nifti(folder / "ct.nii", np.zeros((4, 8, 8), np.int16))


def _side_file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _args(folder: Path, *extra: str) -> list[str]:
    return [str(_empty(folder)), "--out", str(folder / "out"), *extra]


def _out_exists(folder: Path) -> list[str]:
    out = folder / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    return [str(_nifti(folder)), "--out", str(out)]


def _out_is_input(folder: Path) -> list[str]:
    study = _empty(folder)
    return [str(study), "--out", str(study), "--force"]


def _out_holds_input(folder: Path) -> list[str]:
    study = _empty(folder)
    return [str(study), "--out", str(folder), "--force"]


CASES = [
    Case(
        "no-image-series",
        lambda f: _args(f),
        says=r"study: no CT image series found",
        never=r"out: no CT",
    ),
    Case("input-missing", lambda f: [str(f / "nothere"), "--out", str(f / "out")], says="nothere"),
    Case(
        "fhir-unparseable",
        lambda f: _args(f, "--fhir", str(_side_file(f, "bundle.json", b"{not json"))),
        says=r"bundle\.json",
    ),
    Case(
        "prior-report-binary",
        lambda f: _args(f, "--prior-report", str(_side_file(f, "prior.txt", bytes(range(256))))),
        says=r"prior\.txt.*not text",
    ),
    Case("out-exists", _out_exists, says=r"out.*exists.*--force"),
    Case(
        "gguf-not-gguf",
        lambda f: _args(f, "--gguf", str(_side_file(f, "model.gguf", b"not a model" * 10))),
        says=r"model\.gguf",
    ),
    Case("lesion-malformed", lambda f: _args(f, "--lesion", "1,2"), says=r"--lesion.*'1,2'"),
    Case("lesion-not-finite", lambda f: _args(f, "--lesion", "nan,0,0"), says=r"--lesion.*nan"),
    Case("out-is-input", _out_is_input, says=r"out.*overlaps an input.*study"),
    Case("out-holds-input", _out_holds_input, says=r"overlaps an input.*study"),
    Case(
        "out-inside-input",
        lambda f: [str(_empty(f)), "--out", str(f / "study" / "out")],
        says=r"out: the output folder lies inside an input folder",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_analyze_hostile(case: Case, tmp_path: Path) -> None:
    run_case("analyze", case, tmp_path)
    if case.name == "out-exists":
        assert (tmp_path / "out" / "keep.txt").read_text() == "precious"
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["keep.txt"]
    if case.name in ("out-is-input", "out-holds-input"):
        assert (tmp_path / "study" / "notes.txt").read_text() == "no images here\n"


HOSTILE = {"analyze": CASES}
