"""Hostile inputs to ``radcycle detect``: broken series, wrong modality, unknown spacing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from tests.hostile.cases import Case, chest_array, dicom_series, ids, run_case, write_volume


def _missing_slice(folder: Path) -> list[str]:
    series = dicom_series(folder / "ct", chest_array())
    (series / "s0025.dcm").unlink()
    return [str(series), "--json", "--no-radiomics"]


def _no_spacing(folder: Path) -> list[str]:
    series = dicom_series(folder / "ct", chest_array(), lambda ds, k: delattr(ds, "PixelSpacing"))
    return [str(series), "--no-radiomics"]


def _mr(folder: Path) -> list[str]:
    image = Volume(np.full((40, 64, 64), 300.0, dtype=np.float32), Geometry((0, 0, 0), (1, 1, 1)))
    return [str(write_volume(image, folder / "brain.nii.gz"))]


def _copy_is_harmless(folder: Path) -> list[str]:
    series = dicom_series(folder / "ct", chest_array())
    shutil.copy(series / "s0010.dcm", series / "copy.dcm")
    return [str(series), "--json", "--no-radiomics"]


CASES = [
    Case(
        "interpolated-slice",
        _missing_slice,
        exit_code=0,
        says=r'"code": "missing-slices".*"interpolated_slices": \[\s*25\s*\]',
    ),
    Case("duplicate-file", _copy_is_harmless, exit_code=0, says=r'"code": "duplicate-position"'),
    Case("pixel-spacing-missing", _no_spacing, says=r"lung analysis refused.*PixelSpacing"),
    Case("not-ct", _mr, says=r"brain\.nii\.gz.*needs a CT"),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_detect_hostile(case: Case, tmp_path: Path) -> None:
    run_case("detect", case, tmp_path)


HOSTILE = {"detect": CASES}
