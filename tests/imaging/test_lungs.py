"""Lungs, airways and the location model on synthetic chest CTs; bad input refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.errors import AnalysisError
from radcycle.imaging.detection import detect_nodules
from radcycle.imaging.lungs import check_chest_ct, segment_lungs
from radcycle.io import read_image
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


def _abdomen(lung_hu: float) -> Volume:
    """A soft-tissue abdomen in air, its top slices cutting through two lung bases
    (88 mL each, at ``lung_hu``), and a 211 mL pocket of pure gas (a bowel loop)
    lower down."""
    rng = np.random.default_rng(3)
    arr = rng.normal(0.0, 15.0, (60, 100, 120)) - 1000.0
    arr[:, 10:90, 10:110] += 1040.0  # body
    for i0 in (20, 80):
        arr[46:60, 30:50, i0 : i0 + 20] = lung_hu + rng.normal(0.0, 40.0, (14, 20, 20))
    arr[3:18, 35:65, 45:75] = -1000.0 + rng.normal(0.0, 15.0, (15, 30, 30))
    return Volume(arr, Geometry((0, 0, 0), (2.5, 2.5, 2.5)), {"modality": "CT"})


def test_bowel_gas_is_not_lung_and_lung_bases_are_lower_zone() -> None:
    volume = _abdomen(-850.0)
    model = segment_lungs(volume)
    volumes = model.lung_volumes_ml()
    assert volumes["right"] == pytest.approx(87.5, rel=0.05)
    assert volumes["left"] == pytest.approx(87.5, rel=0.05)
    assert not (model.labels[3:18] > 0).any()
    # the scan cuts the lungs off at its top: their zone is reckoned from the base
    centre = volume.index_to_patient([[30.0, 40.0, 52.0]])[0]
    assert model.locate(tuple(float(v) for v in centre), 3.0).zone == "lower"


def test_a_lung_sized_part_is_lung_even_as_dense_as_gas() -> None:
    # severe emphysema: two 1.3 L lungs with a median near -960 HU
    rng = np.random.default_rng(4)
    arr = rng.normal(0.0, 15.0, (60, 100, 120)) - 1000.0
    arr[:, 10:90, 10:110] += 1040.0
    for i0 in (15, 71):
        arr[6:54, 25:75, i0 : i0 + 34] = -960.0 + rng.normal(0.0, 20.0, (48, 50, 34))
    model = segment_lungs(Volume(arr, Geometry((0, 0, 0), (2.5, 2.5, 2.5)), {"modality": "CT"}))
    assert model.lung_volumes_ml()["right"] > 1200.0
    assert model.lung_volumes_ml()["left"] > 1200.0


def test_only_gas_is_no_lungs() -> None:
    with pytest.raises(AnalysisError, match="looks like lung"):
        segment_lungs(_abdomen(-990.0))


@pytest.mark.realdata
def test_lung_bases_of_an_abdominal_ct(shared_data: Path) -> None:
    """The lung bases of an abdominal CT, not its colon gas, against the lung lobes a
    model (TotalSegmentator, labels 10-14) predicted on it; colon is label 20."""
    base = shared_data / "totalsegmentator-example"
    volume = read_image(base / "example_ct_sm.nii.gz")
    volume = volume.with_array(volume.array, modality="CT")
    labels = read_image(base / "example_seg.nii.gz").array
    model = segment_lungs(volume)
    ours = model.envelope_full(volume.array.shape)
    theirs = np.isin(labels, [10, 11, 12, 13, 14])
    assert 2 * (ours & theirs).sum() / (ours.sum() + theirs.sum()) > 0.9
    assert not (ours & (labels == 20)).any()
    right_base = volume.index_to_patient(np.argwhere(labels == 14)[:, ::-1]).mean(0)
    left_base = volume.index_to_patient(np.argwhere(labels == 11)[:, ::-1]).mean(0)
    for centre, side, lobe in ((right_base, "right", "RLL"), (left_base, "left", "LLL")):
        location = model.locate(tuple(float(v) for v in centre), 5.0)
        assert (location.side, location.zone, location.lobe) == (side, "lower", lobe)
    # the colon's gas and folds are no lung nodule (the whole 3 mm scan)
    whole = read_image(base / "example_ct.nii.gz")
    assert detect_nodules(whole.with_array(whole.array, modality="CT")) == []
