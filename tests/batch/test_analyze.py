"""``radcycle batch analyze``: per patient folder, the single command's findings."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from radcycle.batch.analyze import analyze_task
from radcycle.batch.deid import STAGING_DIR
from radcycle.cli.main import build_app
from radcycle.synth import generate_patient, write_patient

runner = CliRunner()
ITEMS = ["item-000001", "item-000002", "item-000003"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small synthetic patients (folders named like patients) and an empty one."""
    root = tmp_path_factory.mktemp("analyze") / "archive"
    write_patient(generate_patient(3, timepoints=2, slices=24, matrix=128), root / "Doe^Jane")
    write_patient(generate_patient(4, timepoints=1, slices=24, matrix=128), root / "Roe^Ann")
    (root / "Moe^Empty").mkdir()
    return root


def _invoke(argv: list[str]) -> tuple[int, str]:
    result = runner.invoke(build_app(argv), argv)
    return result.exit_code, result.stdout


def _findings(folder: Path) -> dict[str, Any]:
    """findings.json without what differs from run to run (time written, stage timings,
    the seconds a registration took)."""
    document = json.loads((folder / "findings.json").read_text())
    return _untimed({k: v for k, v in document.items() if k not in ("generated", "timings_s")})


def _untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _close(a: Any, b: Any) -> bool:
    """Equal, numbers (also inside strings) to 1 %: the pipeline's last digit varies run to run."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, str) and isinstance(b, str):
        na, nb = _NUMBER.findall(a), _NUMBER.findall(b)
        same_text = _NUMBER.sub("#", a) == _NUMBER.sub("#", b)
        return same_text and _close([float(x) for x in na], [float(y) for y in nb])
    if isinstance(a, float | int) and isinstance(b, float | int) and type(a) is type(b):
        return math.isclose(a, b, rel_tol=1e-2, abs_tol=1e-2)
    return bool(a == b)


def test_close_sees_a_real_difference() -> None:
    assert _close({"v": [254.33, "scale 0.6091"]}, {"v": [254.32, "scale 0.6092"]})
    assert not _close({"v": [254.33]}, {"v": [260.0]})
    assert not _close({"v": "right lobe 1"}, {"v": "left lobe 1"})
    assert not _close({"v": 1}, {"w": 1})


def test_batch_analyze_gives_the_single_commands_findings(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "batch"
    argv = ["batch", "analyze", str(archive), "--out", str(out), "--workers", "2", "--json"]
    code, stdout = _invoke(argv)
    assert code == 1, stdout  # one patient folder failed
    report = json.loads(stdout)
    assert (report["done"], report["failed"], report["total"]) == (2, 1, 3)
    (failure,) = report["failures"]
    assert failure["key"] == "item-000002"  # sorted: Doe^Jane, Moe^Empty, Roe^Ann
    assert failure["reason"] == "SeriesError"
    assert "no CT image series" in failure["error"]
    # Items are named by number: no input folder name in the output.
    assert sorted(p.name for p in out.iterdir()) == ["item-000001", "item-000003"]
    assert "Doe" not in " ".join(str(p) for p in out.rglob("*"))

    single = tmp_path / "single"
    patient = archive / "Doe^Jane"
    fhir = patient / "fhir_bundle.json"
    code, stdout = _invoke(["analyze", str(patient), "--fhir", str(fhir), "--out", str(single)])
    assert code == 0, stdout
    assert _close(_findings(out / "item-000001"), _findings(single))
    assert sorted(p.name for p in (out / "item-000001").iterdir()) == sorted(
        p.name for p in single.iterdir()
    )
    assert _findings(out / "item-000001")["patient"] != _findings(out / "item-000003")["patient"]

    code, stdout = _invoke(argv)  # the rerun skips what is done, tries the failed one again
    report = json.loads(stdout)
    assert (report["skipped"], report["done"], report["failed"]) == (2, 0, 1)


def test_a_killed_attempt_leaves_nothing_that_counts(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stale = out / "item-000001"  # renamed into place, but the run died before recording it
    stale.mkdir(parents=True)
    (stale / "findings.json").write_text("{}")
    half = out / STAGING_DIR / "item-000001"
    half.mkdir(parents=True)
    (half / "report.txt").write_text("half")
    payload = {"path": str(archive / "Roe^Ann"), "name": "item-000001"}
    result = analyze_task(payload, {"out": str(out)})
    assert "item-000001/findings.json" in result.outputs
    assert _findings(stale)["lesions"]
    assert not any((out / STAGING_DIR).iterdir())
    assert result.summary["studies"] == 1
