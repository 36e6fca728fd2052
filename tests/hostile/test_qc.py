"""Hostile inputs to ``radcycle qc``: unreadable files alone or in a tree, unknown spacing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.hostile.cases import Case, chest_array, dicom_series, ids, raw_nifti, run_case


def _nan_nifti(folder: Path) -> Path:
    arr = chest_array().astype(np.float32)
    arr[5] = np.nan
    return raw_nifti(folder / "nan.nii", arr)


def _tree(folder: Path) -> list[str]:
    _nan_nifti(folder)
    dicom_series(folder / "ct", chest_array())
    return [str(folder), "--json"]


def _no_spacing(folder: Path) -> list[str]:
    series = dicom_series(folder / "ct", chest_array(), lambda ds, k: delattr(ds, "PixelSpacing"))
    return [str(series), "--json"]


CASES = [
    Case("nan-file", lambda f: [str(_nan_nifti(f))], says=r"nan\.nii.*NaN or infinite"),
    Case("nan-file-in-a-tree", _tree, exit_code=0, says=r'"error": "DataFormatError.*nan\.nii'),
    Case(
        "spacing-missing",
        _no_spacing,
        exit_code=0,
        says=r'"code": "nominal-geometry"',
        never=r'"verdict": "fit"',
    ),
    Case("missing-path", lambda f: [str(f / "nothere")], says=r"nothere.*no such file"),
]
HOSTILE = {"qc": CASES}


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_qc_hostile(case: Case, tmp_path: Path) -> None:
    result = run_case("qc", case, tmp_path)
    if case.exit_code == 0:
        assert json.loads(result.stdout)
