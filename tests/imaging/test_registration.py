"""Registration: a synthetic patient repositioned by a known rigid motion is recovered."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radcycle.domain import Geometry, Volume
from radcycle.errors import AnalysisError, GeometryError
from radcycle.imaging.lesion_registration import warp_mask
from radcycle.imaging.registration import (
    RegistrationSettings,
    apply_matrix,
    overlap_quality,
    register,
)
from radcycle.imaging.registration_images import affine_of, matrix_of
from radcycle.synth import generate_patient


@pytest.fixture(scope="module")
def patient():
    return generate_patient(3, timepoints=2, slices=48, matrix=160)


def test_recovers_known_repositioning(patient) -> None:
    base, follow = patient.timepoints
    result = register(base.volume, follow.volume)
    truth = follow.baseline_to_scan
    points = np.array([les["centre_mm"] for les in base.lesions])
    expected = apply_matrix(truth, points)
    error = np.linalg.norm(result.map_points(points) - expected, axis=1)
    assert error.max() < 2.0, error
    assert not result.failed
    assert result.lung_dice > 0.85
    assert result.lung_dice > result.lung_dice_before
    assert np.allclose(result.map_back(result.map_points(points)), points, atol=1e-6)
    summary = result.to_dict()
    assert summary["kind"] in ("rigid", "affine")
    assert len(summary["matrix_baseline_to_followup_lps"]) == 4


def test_unrelated_images_are_flagged(patient) -> None:
    base = patient.timepoints[0].volume
    rng = np.random.default_rng(0)
    noise = Volume(rng.normal(-300, 400, size=base.array.shape).astype(np.float32), base.geometry)
    result = register(base, noise)
    assert result.failed
    assert "Dice" in result.reason


def test_warp_mask_moves_a_box_by_the_matrix() -> None:
    geometry = Geometry((0.0, 0.0, 0.0), (1.0, 1.0, 2.0))
    volume = Volume(np.zeros((20, 40, 40), dtype=np.float32), geometry)
    mask = np.zeros(volume.array.shape, dtype=bool)
    mask[8:12, 10:20, 10:20] = True
    shift = np.eye(4)
    shift[:3, 3] = (5.0, -3.0, 4.0)
    moved = warp_mask(mask, volume, volume, shift)
    assert moved.sum() == mask.sum()
    assert np.array_equal(np.argwhere(moved).min(axis=0), [10, 7, 15])
    with pytest.raises(GeometryError):
        warp_mask(mask[:5], volume, volume, shift)


@given(
    angles=st.tuples(*[st.floats(-0.5, 0.5)] * 3),
    shift=st.tuples(*[st.floats(-50, 50)] * 3),
    scale=st.floats(0.8, 1.25),
)
def test_matrix_round_trip_through_simpleitk(angles, shift, scale) -> None:
    a, b, c = angles
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    m = np.eye(4)
    m[:3, :3] = rx @ ry @ rz * scale
    m[:3, 3] = shift
    back = matrix_of(affine_of(m, np.array([10.0, -20.0, 30.0])))
    assert np.allclose(back, m, atol=1e-9)


def _cut(volume: Volume, i_hi: int, shift_mm: tuple[float, float, float]) -> Volume:
    """Columns ``0..i_hi`` of ``volume`` only, its content moved by ``shift_mm``."""
    geometry = Geometry(volume.origin + np.asarray(shift_mm), volume.spacing, volume.direction)
    return Volume(np.ascontiguousarray(volume.array[:, :, :i_hi]), geometry)


def test_intensity_path_places_a_cut_follow_up_without_lungs(patient) -> None:
    base, follow = patient.timepoints
    # Half the chest, cut through the lungs (no lung is enclosed by the body
    # outline any more), and moved 25 mm further than the repositioning.
    shift = (25.0, -12.0, 9.0)
    cut = _cut(follow.volume, follow.volume.array.shape[2] // 2 + 8, shift)
    result = register(base.volume, cut)
    assert result.path == "intensity"
    assert not result.failed, result.reason
    assert result.details["why_intensity"]  # one lung cut open: the lung path is not trusted
    truth = np.eye(4)
    truth[:3, 3] = shift
    truth = truth @ follow.baseline_to_scan
    points = np.array(
        [
            les["centre_mm"]
            for les in base.lesions
            if cut.contains(apply_matrix(truth, [les["centre_mm"]]))
        ]
    )
    assert len(points)
    error = np.linalg.norm(result.map_points(points) - apply_matrix(truth, points), axis=1)
    assert error.max() < 4.0, error  # a third of the gate; each lesion is refined after
    summary = result.to_dict()
    assert summary["path"] == "intensity"
    for key in ("ncc", "bone_dice", "overlap_fraction"):
        assert 0.0 <= summary["details"][key] <= 1.0
    assert summary["details"]["overlap_fraction"] > 0.8  # of the smaller field of view


def test_intensity_path_on_whole_chests_agrees_with_the_lung_path(patient) -> None:
    base, follow = patient.timepoints
    lungs = register(base.volume, follow.volume)
    intensity = register(base.volume, follow.volume, RegistrationSettings(path="intensity"))
    assert lungs.path == "lungs"
    assert intensity.path == "intensity"
    assert not intensity.failed, intensity.reason
    points = np.array([les["centre_mm"] for les in base.lesions])
    gap = np.linalg.norm(lungs.map_points(points) - intensity.map_points(points), axis=1)
    assert gap.max() < 2.0, gap


def test_unrelated_images_fail_the_intensity_judgement(patient) -> None:
    base = patient.timepoints[0].volume
    rng = np.random.default_rng(1)
    noise = Volume(rng.normal(-300, 400, size=base.array.shape).astype(np.float32), base.geometry)
    result = register(base, noise, RegistrationSettings(path="intensity"))
    assert result.failed
    assert "NCC" in result.reason


def test_overlap_quality_of_unrelated_values_is_low() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(0, 300, size=(8, 8, 8))
    b = rng.normal(0, 300, size=(8, 8, 8))
    q = overlap_quality(a, b, np.ones(a.shape, bool))
    assert abs(q["ncc"]) < 0.2
    assert overlap_quality(a, b, np.zeros(a.shape, bool))["ncc"] == 0.0


def test_unknown_registration_path_is_refused() -> None:
    with pytest.raises(AnalysisError):
        RegistrationSettings(path="bones")
