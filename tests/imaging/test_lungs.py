"""Lungs, airways and the location model on synthetic chest CTs; bad input refused."""

from __future__ import annotations

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.errors import AnalysisError
from radcycle.imaging.lungs import check_chest_ct, segment_lungs
from radcycle.synth import generate_patient


@pytest.fixture(scope="module")
def patient_ct():  # type: ignore[no-untyped-def]
    return generate_patient(21, timepoints=1, slices=96, matrix=256).timepoints[0]


def test_two_lungs_and_a_trachea(patient_ct) -> None:  # type: ignore[no-untyped-def]
    model = segment_lungs(patient_ct.volume)
    volumes = model.lung_volumes_ml()
    assert 800.0 < volumes["right"] < 4000.0
    assert 800.0 < volumes["left"] < 4000.0
    assert volumes["airways"] > 3.0
    # LPS: the left lung lies at larger x than the right one
    right = model.geometry.index_to_patient(np.argwhere(model.labels == 1)[:, ::-1]).mean(0)
    left = model.geometry.index_to_patient(np.argwhere(model.labels == 2)[:, ::-1]).mean(0)
    assert left[0] > right[0]
    carina = np.asarray(patient_ct.landmarks["carina"])
    airway = model.geometry.index_to_patient(np.argwhere(model.labels == 3)[:, ::-1])
    assert np.min(np.linalg.norm(airway[:, :2] - carina[:2], axis=1)) < 15.0


def test_location_of_truth_lesions(patient_ct) -> None:  # type: ignore[no-untyped-def]
    model = segment_lungs(patient_ct.volume)
    lung = [t for t in patient_ct.lesions if t["organ"] == "lung"]
    assert lung
    zones_right = 0
    for truth in lung:
        loc = model.locate(tuple(truth["centre_mm"]), truth["short_axis_mm"] / 2)
        assert loc.side == truth["side"]
        assert loc.lobe[0] == truth["side"][0].upper()
        zones_right += loc.zone == truth["zone"]
        if truth["juxtapleural"]:
            assert loc.pleural_distance_mm is not None
            assert loc.pleural_distance_mm <= 6.0
    assert zones_right >= len(lung) - 1
    # every lung lesion lies inside the envelope on the full grid (juxtapleural too)
    envelope = model.envelope_full(patient_ct.volume.array.shape)
    for truth in lung:
        i, j, k = np.rint(patient_ct.volume.patient_to_index([truth["centre_mm"]])[0]).astype(int)
        assert envelope[k, j, i]


def test_non_ct_and_wrong_units_are_refused() -> None:
    arr = np.full((20, 40, 40), 300.0)
    geo = Geometry((0, 0, 0), (1, 1, 1))
    with pytest.raises(AnalysisError, match="needs a CT"):
        check_chest_ct(Volume(arr, geo, {"modality": "MR"}))
    with pytest.raises(AnalysisError, match="Hounsfield"):
        segment_lungs(Volume(arr, geo))
    flat = np.full((1, 40, 40), -1000.0)
    flat[0, 10:30, 10:30] = 40.0
    with pytest.raises(AnalysisError, match="3D volume"):
        segment_lungs(Volume(flat, geo, {"modality": "CT"}))


def test_no_lungs_in_a_ct_without_air_inside() -> None:
    arr = np.full((20, 60, 60), -1000.0)
    arr[:, 10:50, 10:50] = 40.0
    with pytest.raises(AnalysisError, match="no lungs"):
        segment_lungs(Volume(arr, Geometry((0, 0, 0), (2, 2, 2)), {"modality": "CT"}))
