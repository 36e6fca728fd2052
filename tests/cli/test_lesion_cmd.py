"""``radcycle segment``, ``detect`` and ``measure`` through the typer app."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.domain import Geometry, Volume
from radcycle.io import read_image, write_image

runner = CliRunner()


def _chest() -> Volume:
    """Soft tissue, two air-filled lungs and a 10 mm solid nodule in the right one."""
    rng = np.random.default_rng(1)
    shape = (50, 110, 140)
    arr = np.full(shape, -1000.0)
    arr[:, 8:-8, 6:-6] = 40.0
    arr[2:-2, 14:-14, 12:64] = -850.0
    arr[2:-2, 14:-14, 76:-12] = -850.0
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    arr[np.sqrt(((k - 25) * 1.5) ** 2 + (j - 55.0) ** 2 + (i - 40.0) ** 2) <= 5.0] = 40.0
    arr += rng.normal(0, 15, shape)
    return Volume(arr.astype(np.int16), Geometry((-70.0, -55.0, -40.0), (1.0, 1.0, 1.5)))


@pytest.fixture
def chest_file(tmp_path: Path) -> Path:
    return write_image(_chest(), tmp_path / "chest.nii.gz")


def _nodule_seed() -> str:
    p = _chest().index_to_patient([[40, 55, 25]])[0]
    return ",".join(f"{v:.2f}" for v in p)


def test_segment_then_measure(chest_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "mask.nii.gz"
    args = ["segment", str(chest_file), "--point", _nodule_seed(), "--out", str(out), "--json"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["method"] == "lung-nodule"
    assert data["quality"] == "ok"
    assert abs(data["measurements"]["long_axis_mm"] - 10.0) <= 1.5
    assert read_image(out).array.sum() > 100
    result = runner.invoke(build_app(), ["measure", str(chest_file), str(out), "--json", "--lung"])
    assert result.exit_code == 0, result.output
    measured = json.loads(result.output)
    assert measured["nodule_type"] == "solid"
    assert measured["long_axis_mm"] == data["measurements"]["long_axis_mm"]
    assert measured["intensity"]["mean_hu"] > -100


def test_detect_json_in_lps_mm(chest_file: Path) -> None:
    result = runner.invoke(build_app(), ["detect", str(chest_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (nodule,) = data["nodules"]
    expected = _chest().index_to_patient([[40, 55, 25]])[0]
    assert np.linalg.norm(np.asarray(nodule["centre_mm"]) - expected) < 2.0
    assert nodule["type"] == "solid"
    assert nodule["location"]["side"] == "right"
    assert "blob" in nodule["provenance"]["reason"]
    assert nodule["radiomics"]["morph_volume"] > 0
    assert set(data["timings_s"]) == {"lungs", "detection", "radiomics"}


def test_bad_input_gives_a_message_not_a_traceback(chest_file: Path, tmp_path: Path) -> None:
    app = build_app()
    cases = []
    out = str(tmp_path / "m.nii.gz")
    cases.append(["segment", str(chest_file), "--point", "900,0,0", "--out", out])
    cases.append(["segment", str(chest_file), "--point", "1,2", "--out", out])
    cases.append(["segment", str(chest_file), "--point", "-65,-50,-35", "--out", out])
    empty = write_image(
        _chest().with_array(np.zeros((50, 110, 140), np.uint8)), tmp_path / "e.nrrd"
    )
    cases.append(["measure", str(chest_file), str(empty)])
    far = Volume(np.ones((5, 5, 5), np.uint8), Geometry((900.0, 0.0, 0.0), (1, 1, 1)))
    cases.append(["measure", str(chest_file), str(write_image(far, tmp_path / "far.nii.gz"))])
    mr = Volume(np.full((20, 30, 30), 300.0), Geometry((0, 0, 0), (1, 1, 1)))
    cases.append(["detect", str(write_image(mr, tmp_path / "mr.nii.gz"))])
    flat = Volume(_chest().array[:1], Geometry((0, 0, 0), (1, 1, 1)))
    cases.append(["detect", str(write_image(flat, tmp_path / "flat.nii.gz"))])
    cases.append(["detect", str(tmp_path / "missing.nii.gz")])
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert "error:" in result.output
