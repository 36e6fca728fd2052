"""``radcycle radiomics`` end to end on the IBSI digital phantom, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.domain import Geometry, Volume
from radcycle.io import write_image

from .ibsi_data import ibsi_case, ibsi_paths

runner = CliRunner()


@pytest.mark.realdata
def test_json_features_match_reference(shared_data: Path) -> None:
    image, mask = ibsi_paths(shared_data, "ibsi-phantom")
    result = runner.invoke(
        build_app(), ["radiomics", str(image), str(mask), "--config", "ibsi-phantom", "--json"]
    )
    assert result.exit_code == 0, result.output
    features = json.loads(result.stdout)["features"]
    _, _, refs = ibsi_case(shared_data, "ibsi-phantom")
    assert len(features) >= len(refs)
    assert all(r.matches(features[r.tag]) for r in refs)


def _write(tmp: Path, name: str, array: np.ndarray, spacing: tuple[float, ...]) -> Path:
    vol = Volume(array, Geometry((0, 0, 0), spacing))
    return write_image(vol, tmp / name)


@pytest.mark.parametrize(
    ("mask_shape", "mask_value", "message"),
    [((6, 6, 5), 1, "grid"), ((6, 6, 6), 0, "empty")],
)
def test_bad_masks_exit_2_with_message(
    tmp_path: Path, mask_shape: tuple[int, int, int], mask_value: int, message: str
) -> None:
    image = _write(
        tmp_path, "img.nii.gz", np.arange(216, dtype=np.int16).reshape(6, 6, 6), (1, 1, 1)
    )
    mask = _write(tmp_path, "roi.nii.gz", np.full(mask_shape, mask_value, np.uint8), (1, 1, 1))
    result = runner.invoke(build_app(), ["radiomics", str(image), str(mask), "--json"])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_unknown_config_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(
        build_app(),
        ["radiomics", str(tmp_path / "a.nii"), str(tmp_path / "b.nii"), "--config", "x"],
    )
    assert result.exit_code == 2
    assert "ibsi-a" in result.output


def test_undefined_features_are_json_null_and_table_prints(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.normal(0, 100, (6, 6, 6)).astype(np.int16)
    image = _write(tmp_path, "img.nii.gz", pixels, (1, 1, 1))
    roi = np.zeros((6, 6, 6), np.uint8)
    roi[3, 3, 3] = 1
    mask = _write(tmp_path, "roi.nii.gz", roi, (1, 1, 1))
    result = runner.invoke(
        build_app(), ["radiomics", str(image), str(mask), "--config", "ibsi-a", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert "NaN" not in result.stdout
    features = json.loads(result.stdout)["features"]
    assert features["morph_pca_elongation"] is None
    assert features["stat_mean"] == float(pixels[3, 3, 3])
    table = runner.invoke(build_app(), ["radiomics", str(image), str(mask), "--config", "ibsi-a"])
    assert table.exit_code == 0, table.output
    assert "stat_mean" in table.output


@pytest.mark.realdata
@pytest.mark.slow
def test_dicom_series_and_rtstruct_give_the_nifti_features(shared_data: Path) -> None:
    image, mask = ibsi_paths(shared_data, "ibsi-a")
    dicom = shared_data / "ibsi" / "ibsi_1_ct_radiomics_phantom" / "dicom"
    pairs = [(dicom / "image", dicom / "mask"), (image, mask)]
    runs = [
        runner.invoke(build_app(), ["radiomics", str(a), str(b), "--config", "ibsi-a", "--json"])
        for a, b in pairs
    ]
    assert all(r.exit_code == 0 for r in runs), [r.output for r in runs]
    from_dicom, from_nifti = (json.loads(r.stdout)["features"] for r in runs)
    assert from_dicom == pytest.approx(from_nifti, rel=1e-9)
    wrong = runner.invoke(
        build_app(), ["radiomics", str(dicom / "image"), str(dicom / "mask"), "--roi", "GTV-9"]
    )
    assert wrong.exit_code == 2
    assert "GTV-1" in wrong.output
