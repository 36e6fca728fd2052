"""Hostile inputs to ``radcycle batch radiomics``, ``batch deid`` and ``batch analyze``."""

from __future__ import annotations

from pathlib import Path

import pytest

from radcycle.privacy.keys import generate_keyfile
from tests.hostile.cases import Case, ids, run_case


def _csv(folder: Path, data: bytes, *extra: str) -> list[str]:
    path = folder / "cases.csv"
    path.write_bytes(data)
    return ["radiomics", str(path), "--out", str(folder / "features.csv"), *extra]


def _archive(folder: Path) -> Path:
    source = folder / "archive"
    (source / "p1").mkdir(parents=True)
    (source / "p1" / "notes.txt").write_text("not DICOM\n")
    return source


def _key(folder: Path, data: bytes | None = None) -> str:
    path = folder / "k.key"
    if data is None:
        generate_keyfile(path)
    else:
        path.write_bytes(data)
        path.chmod(0o600)
    return str(path)


def _deid(folder: Path, out: Path, key: str) -> list[str]:
    return ["deid", str(_archive(folder)), "--out", str(out), "--key", key]


CASES = [
    Case(
        "csv-missing",
        lambda f: ["radiomics", str(f / "nothere.csv"), "--out", str(f / "features.csv")],
        says=r"nothere\.csv",
    ),
    Case(
        "csv-without-image-mask",
        lambda f: _csv(f, b"ID,Path\n1,a.nii\n"),
        says=r"cases\.csv.*(Image|Mask)",
    ),
    Case("csv-empty", lambda f: _csv(f, b""), says=r"cases\.csv", never=r'"done"'),
    Case("csv-binary", lambda f: _csv(f, bytes(range(256)) * 8), says=r"cases\.csv"),
    Case(
        "row-image-missing",
        lambda f: _csv(f, b"ID,Image,Mask\nc1,none.nii,none_mask.nii\n", "--json"),
        exit_code=1,
        says=r"none\.nii",
    ),
    Case(
        "out-is-the-csv",
        lambda f: [
            *_csv(f, b"ID,Image,Mask\nc1,a.nii,b.nii\n")[:2],
            "--out",
            str(f / "cases.csv"),
            "--force",
        ],
        says=r"cases\.csv.*overlaps an input",
    ),
    Case(
        "deid-input-missing",
        lambda f: ["deid", str(f / "nothere"), "--out", str(f / "out"), "--key", _key(f)],
        says=r"nothere",
    ),
    Case(
        "deid-key-missing",
        lambda f: _deid(f, f / "out", str(f / "none.key")),
        says=r"none\.key",
    ),
    Case(
        "deid-key-not-a-key",
        lambda f: _deid(f, f / "out", _key(f, b"short")),
        says=r"k\.key.*not a radcycle",
    ),
    Case(
        "deid-out-inside-input",
        lambda f: _deid(f, f / "archive" / "out", _key(f)),
        says=r"archive.*overlaps an input",
    ),
    Case(
        "deid-out-is-input",
        lambda f: [*_deid(f, f / "archive", _key(f)), "--force"],
        says=r"archive.*overlaps an input",
    ),
    Case(
        "analyze-input-missing",
        lambda f: ["analyze", str(f / "nothere"), "--out", str(f / "out")],
        says=r"nothere",
    ),
    Case(
        "analyze-out-inside-input",
        lambda f: ["analyze", str(_archive(f)), "--out", str(f / "archive" / "out")],
        says=r"archive.*overlaps an input",
    ),
    Case(
        "analyze-patient-without-images",
        lambda f: ["analyze", str(_archive(f)), "--out", str(f / "out")],
        exit_code=1,
        says=r"no CT\s+image series",
        never=r"\b1 done",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_batch_hostile(case: Case, tmp_path: Path) -> None:
    run_case("batch", case, tmp_path)
    if case.name == "out-is-the-csv":
        assert (tmp_path / "cases.csv").read_bytes().startswith(b"ID,Image,Mask")
    if (tmp_path / "archive").exists():  # whatever was refused, the input is untouched
        assert (tmp_path / "archive" / "p1" / "notes.txt").read_text() == "not DICOM\n"


HOSTILE = {"batch": CASES}
