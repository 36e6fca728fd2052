"""One decision of the modality, and refusals of unknown millimetres and NaN values."""

from __future__ import annotations

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.errors import AnalysisError
from radcycle.imaging.inputs import NOMINAL_GEOMETRY, modality_of, require_mm_geometry
from radcycle.imaging.lungs import check_chest_ct
from radcycle.imaging.measurement import measure_mask
from radcycle.imaging.outlines import modality_of as outlines_modality
from radcycle.io.dicom.series import UNKNOWN_GEOMETRY


def _mr() -> tuple[Volume, np.ndarray]:
    arr = np.full((12, 20, 20), 300.0)
    arr[4:8, 8:12, 8:12] = 900.0
    mask = arr > 500
    return Volume(arr, Geometry((0, 0, 0), (1, 1, 1))), mask


def test_mr_nifti_without_modality_is_not_measured_in_hu() -> None:
    volume, mask = _mr()
    m = measure_mask(volume, mask)
    assert "mean_hu" not in m.intensity
    assert m.intensity["mean_value"] == pytest.approx(900.0)
    assert outlines_modality(volume) == modality_of(volume) == "MR"
    with pytest.raises(AnalysisError, match="needs a CT"):
        check_chest_ct(volume)


def test_given_modality_wins_and_pet_is_pt() -> None:
    volume, _ = _mr()
    assert modality_of(volume, "ct") == "CT"
    assert modality_of(volume.with_array(volume.array, modality="PET")) == "PT"


def test_reader_and_imaging_agree_on_nominal_geometry_codes() -> None:
    assert set(NOMINAL_GEOMETRY) == set(UNKNOWN_GEOMETRY)


@pytest.mark.parametrize("code", NOMINAL_GEOMETRY)
def test_measurement_refused_on_nominal_geometry(code: str) -> None:
    volume, mask = _mr()
    flagged = volume.with_array(volume.array, problems=[{"code": code, "message": "why"}])
    with pytest.raises(AnalysisError, match="millimetres are unknown"):
        measure_mask(flagged, mask)
    require_mm_geometry(volume, "fine without problems")


def test_nan_in_lesion_refused() -> None:
    volume, mask = _mr()
    arr = volume.array.copy()
    arr[5, 9, 9] = np.nan
    with pytest.raises(AnalysisError, match="NaN or infinite"):
        measure_mask(volume.with_array(arr), mask)
