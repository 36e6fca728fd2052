"""``radcycle batch radiomics``: the single command's numbers, one row per case."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from radcycle.batch.radiomics import read_cases
from radcycle.cli.main import build_app
from radcycle.errors import DataFormatError

runner = CliRunner()
GOOD = ["c0", "c1", "c2", "c3"]
BAD = {"missing": "PathNotFoundError", "shape": "GeometryError", "unreadable": "InputError"}


def _batch(cohort: Path, out: Path, *args: str) -> dict[str, object]:
    argv = ["batch", "radiomics", str(cohort / "cases.csv"), "--out", str(out), "--json", *args]
    result = runner.invoke(build_app(argv), argv)
    assert result.exit_code == 1, result.output  # the bad rows fail
    data: dict[str, object] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def table(cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("features") / "features.parquet"
    report = _batch(cohort, out, "--workers", "2")
    assert (report["done"], report["failed"]) == (4, 3)
    assert report["failed_by_reason"] == {
        "PathNotFoundError": 1,
        "GeometryError": 1,
        "InputError": 1,
    }
    return out


def test_pyradiomics_csv_without_id_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "cases.csv").write_text("Image,Mask\nimg/a.nrrd,img/m.nrrd\nb.nrrd,m.nrrd\n")
    items = read_cases(tmp_path / "cases.csv")
    assert [i.key for i in items] == ["row-1", "row-2"]
    assert items[0].payload["image"] == str(tmp_path / "img" / "a.nrrd")


@pytest.mark.parametrize(
    ("text", "match"),
    [("ID,Image\nA,a.nrrd\n", "Image and Mask"), ("id,image,mask\nA,a,m\nA,b,m\n", "twice")],
)
def test_bad_cases_csv(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "cases.csv").write_text(text)
    with pytest.raises(DataFormatError, match=match):
        read_cases(tmp_path / "cases.csv")


def test_one_row_per_case_bad_rows_failed_with_reason(table: Path) -> None:
    rows = pq.read_table(table).to_pylist()
    assert [r["id"] for r in rows] == [*GOOD, *BAD]
    for row in rows:
        if row["id"] in BAD:
            assert (row["status"], row["reason"]) == ("failed", BAD[row["id"]])
            assert row["error"]
            assert row["morph_volume"] is None
        else:
            assert row["status"] == "done"
            assert row["error"] == ""
            assert row["morph_volume"] > 0


def test_rows_are_the_single_commands_numbers(cohort: Path, table: Path) -> None:
    rows = {r["id"]: r for r in pq.read_table(table).to_pylist()}
    argv = ["radiomics", str(cohort / "case2_image.nii.gz"), str(cohort / "case2_mask.nii.gz")]
    result = runner.invoke(build_app(argv), [*argv, "--json"])
    assert result.exit_code == 0, result.output
    single = json.loads(result.stdout)["features"]
    row = rows["c2"]
    assert len(single) > 100
    for tag, value in single.items():
        if value is None:  # the single command's JSON writes NaN as null
            assert math.isnan(row[tag]), tag
        else:
            assert row[tag] == value, tag


def test_rerun_skips_done_and_csv_has_the_same_values(
    cohort: Path, table: Path, tmp_path: Path
) -> None:
    out = tmp_path / "features.csv"
    report = _batch(cohort, out, "--run", str(table) + ".run", "--workers", "1")
    assert (report["skipped"], report["done"], report["failed"]) == (4, 0, 3)
    with out.open(encoding="utf-8") as handle:
        rows = {r["id"]: r for r in csv.DictReader(handle)}
    parquet = {r["id"]: r for r in pq.read_table(table).to_pylist()}
    assert float(rows["c1"]["morph_volume"]) == parquet["c1"]["morph_volume"]
    assert rows["shape"]["morph_volume"] == ""
    assert rows["shape"]["reason"] == "GeometryError"


def test_one_worker_gives_the_same_bytes_as_two(cohort: Path, table: Path, tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"
    _batch(cohort, out, "--workers", "1")
    assert out.read_bytes() == table.read_bytes()


def test_existing_output_is_not_replaced_without_force(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"
    out.write_bytes(b"keep me")
    argv = ["batch", "radiomics", str(cohort / "cases.csv"), "--out", str(out)]
    result = runner.invoke(build_app(argv), argv)
    assert result.exit_code == 2
    assert "--force" in result.output
    assert out.read_bytes() == b"keep me"
