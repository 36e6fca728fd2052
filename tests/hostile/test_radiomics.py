"""Hostile inputs to ``radcycle radiomics``: ROIs on which features are undefined."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from tests.hostile.cases import Case, ids, run_case, write_volume


def _roi(folder: Path, image: np.ndarray, roi: np.ndarray) -> list[str]:
    geometry = Geometry((0, 0, 0), (1.0, 1.0, 1.0))
    a = write_volume(Volume(image, geometry), folder / "img.nrrd")
    b = write_volume(Volume(roi.astype(np.uint8), geometry), folder / "roi.nrrd")
    return [str(a), str(b), "--json"]


def _cube(value: float) -> np.ndarray:
    return np.full((8, 8, 8), value, dtype=np.float32)


def _inner() -> np.ndarray:
    roi = np.zeros((8, 8, 8), dtype=bool)
    roi[2:6, 2:6, 2:6] = True
    return roi


def _one_voxel(folder: Path) -> list[str]:
    roi = np.zeros((8, 8, 8), dtype=bool)
    roi[4, 4, 4] = True
    return _roi(folder, np.arange(512, dtype=np.float32).reshape(8, 8, 8), roi)


def _nan_roi(folder: Path) -> list[str]:
    image = _cube(5.0)
    image[3, 3, 3] = np.nan
    return _roi(folder, image, _inner())


def _robust(folder: Path, *extra: str) -> list[str]:
    return [*_roi(folder, _cube(40.0), _inner()), "--robustness", *extra]


CASES = [
    Case("robustness-one-case", lambda f: _robust(f), 2, r"needs another case"),
    Case("robustness-bad-case", lambda f: _robust(f, "--case", "x.nii"), 2, r"IMAGE:MASK.*x\.nii"),
    Case("uniform-zero-roi", lambda f: _roi(f, _cube(0.0), _inner()), 0, r"all equal \(0\)"),
    Case("uniform-roi", lambda f: _roi(f, _cube(40.0), _inner()), 0, r"all equal \(40\)"),
    Case("one-voxel-roi", _one_voxel, 0, "one voxel"),
    Case("nan-in-roi", _nan_roi, 2, r"img\.nrrd.*NaN or infinite"),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_radiomics_hostile(case: Case, tmp_path: Path) -> None:
    result = run_case("radiomics", case, tmp_path)
    if case.exit_code == 0:
        data = json.loads(result.stdout)  # strict JSON: no NaN
        nulls = {k for k, v in data["features"].items() if v is None}
        assert nulls
        assert nulls == set(data["undefined"])


HOSTILE = {"radiomics": CASES}
