"""``radcycle batch deid``: per patient folder, the single command's files byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.privacy.keys import generate_keyfile
from tests.privacy.conftest import ALICE, BOB, write_patient

runner = CliRunner()


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    write_patient(root, ALICE, {1: "20230314", 2: "20230915"})
    write_patient(root, BOB, {1: "20220101"})
    (root / "notes.txt").write_text("not DICOM\n", encoding="utf-8")
    return root


def _invoke(argv: list[str]) -> tuple[int, str]:
    result = runner.invoke(build_app(argv), argv)
    return result.exit_code, result.stdout


def _dicom_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.dcm")}


def test_batch_deid_gives_the_single_commands_files(archive: Path, tmp_path: Path) -> None:
    key = tmp_path / "key.bin"
    generate_keyfile(key)
    code, _ = _invoke(["deid", str(archive), "--out", str(tmp_path / "single"), "--key", str(key)])
    assert code == 0
    out = tmp_path / "batch"
    argv = ["batch", "deid", str(archive), "--out", str(out), "--key", str(key), "--workers", "2"]
    code, stdout = _invoke([*argv, "--json"])
    assert code == 0, stdout
    report = json.loads(stdout)
    assert (report["done"], report["failed"], report["total"]) == (3, 0, 3)
    assert report["files"]["written"] == 13
    assert report["files"]["skipped"] == 1
    single = _dicom_files(tmp_path / "single")
    assert len(single) == 13
    assert _dicom_files(out) == single
    # Item records are named by number: no input folder name in the output.
    assert sorted(p.name for p in (out / "deid-batch").iterdir()) == [
        "item-000001",
        "item-000002",
        "item-000003",
    ]
    assert not (out / ".staging").exists()
    assert "Quarrington" not in " ".join(str(p) for p in out.rglob("*"))
    code, stdout = _invoke([*argv, "--json"])
    assert (code, json.loads(stdout)["skipped"]) == (0, 3)


def test_other_options_on_the_same_run_are_refused(archive: Path, tmp_path: Path) -> None:
    key = tmp_path / "key.bin"
    generate_keyfile(key)
    argv = ["batch", "deid", str(archive), "--out", str(tmp_path / "out"), "--key", str(key)]
    assert _invoke([*argv, "--workers", "1"])[0] == 0
    code, _ = _invoke([*argv, "--retain", "uids"])
    assert code == 2


def test_options_mean_what_the_single_commands_flags_mean(archive: Path, tmp_path: Path) -> None:
    key = tmp_path / "key.bin"
    generate_keyfile(key)
    single = ["deid", str(archive), "--out", str(tmp_path / "single"), "--key", str(key)]
    assert _invoke([*single, "--retain-uids", "--dates", "full", "--clean-descriptors"])[0] == 0
    batch = ["batch", "deid", str(archive), "--out", str(tmp_path / "batch"), "--key", str(key)]
    options = ["--retain", "uids", "--dates", "full", "--clean", "descriptors"]
    assert _invoke([*batch, *options, "--workers", "1"])[0] == 0
    assert _dicom_files(tmp_path / "batch") == _dicom_files(tmp_path / "single")
    assert _invoke([*batch, "--retain", "everything"])[0] == 2
