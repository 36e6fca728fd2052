"""The in-memory patient: determinism, lesion stories, truth against voxels, transforms."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radcycle.errors import InputError
from radcycle.synth import SyntheticPatient, generate_patient
from radcycle.synth.patient import _add_months, _repositioning, slice_spacing_mm

LESION_HU = {
    "solid": (-150.0, 200.0),
    "part-solid": (-480.0, 200.0),  # denser than its -500 HU halo: the solid core
    "ground-glass": (-720.0, -380.0),
    "lymph-node": (-150.0, 200.0),
    "liver": (-20.0, 45.0),
}


def _centre_hu(volume, centre_mm) -> float:
    i, j, k = np.rint(volume.patient_to_index([centre_mm])[0]).astype(int)
    return float(volume.array[k, j - 1 : j + 2, i - 1 : i + 2].mean())


def test_same_seed_same_voxels_other_seed_differs() -> None:
    a = generate_patient(11, timepoints=2, slices=16, matrix=64)
    b = generate_patient(11, timepoints=2, slices=16, matrix=64)
    c = generate_patient(12, timepoints=2, slices=16, matrix=64)
    for ta, tb in zip(a.timepoints, b.timepoints, strict=True):
        np.testing.assert_array_equal(ta.volume.array, tb.volume.array)
        assert ta.study_instance_uid == tb.study_instance_uid
    assert a.truth() == b.truth()
    assert not np.array_equal(a.timepoints[0].volume.array, c.timepoints[0].volume.array)
    assert a.timepoints[0].study_instance_uid != c.timepoints[0].study_instance_uid


def test_story_has_growth_shrinkage_new_and_vanished(small_patient: SyntheticPatient) -> None:
    tps = small_patient.timepoints
    statuses = {lesion["status"] for tp in tps for lesion in tp.lesions}
    assert {"present", "new", "vanished"} <= statuses
    base = {lesion["lesion_id"]: lesion for lesion in tps[0].lesions}
    follow = {lesion["lesion_id"]: lesion for lesion in tps[1].lesions}
    change = [follow[k]["long_axis_mm"] - base[k]["long_axis_mm"] for k in base]
    assert min(change) < -3.0  # a lesion shrank under treatment
    assert any(c > 0.3 for c in change)  # another grew
    later = {lesion["lesion_id"]: lesion for lesion in tps[2].lesions}
    assert later["L1"]["long_axis_mm"] > follow["L1"]["long_axis_mm"]  # progression
    for lesion in tps[1].lesions:
        if lesion["status"] == "vanished":
            assert lesion["volume_mm3"] == lesion["long_axis_mm"] == 0.0
            assert lesion["lesion_id"] in {x["lesion_id"] for x in tps[2].lesions}


def test_lesion_ids_are_stable_and_types_cover_the_issue(small_patient: SyntheticPatient) -> None:
    ids = [[x["lesion_id"] for x in tp.lesions] for tp in small_patient.timepoints]
    assert ids[0] == ids[1][: len(ids[0])]
    types = {x["type"] for x in small_patient.timepoints[-1].lesions}
    assert {"solid", "part-solid", "ground-glass", "lymph-node"} <= types
    for tp in small_patient.timepoints:
        for lesion in tp.lesions:
            if lesion["status"] == "vanished":
                continue
            assert 3.0 <= lesion["long_axis_mm"] <= 40.0
            assert lesion["short_axis_mm"] <= lesion["long_axis_mm"]
            assert lesion["max_3d_diameter_mm"] >= lesion["long_axis_mm"]
            is_part_solid = lesion["type"] == "part-solid"
            assert (lesion["solid_component_mm"] is not None) == is_part_solid
            if lesion["organ"] == "lung":
                assert lesion["side"] in ("left", "right")
                assert lesion["zone"] in ("upper", "middle", "lower")
                assert lesion["lobe"] in ("RUL", "RML", "RLL", "LUL", "LLL")
                assert lesion["lobe"][0] == lesion["side"][0].upper()
            else:
                assert lesion["lobe"] is None


def test_lesion_centres_hold_lesion_like_values(small_patient: SyntheticPatient) -> None:
    checked = 0
    for tp in small_patient.timepoints:
        for lesion in tp.lesions:
            if lesion["status"] == "vanished" or lesion["short_axis_mm"] < 9.0:
                continue
            low, high = LESION_HU[lesion["type"]]
            assert low <= _centre_hu(tp.volume, lesion["centre_mm"]) <= high, lesion
            checked += 1
    assert checked >= 6


def _ellipsoid_mask(volume, lesion, grow_mm: float) -> np.ndarray:
    """Voxels within the lesion's ellipsoid enlarged by ``grow_mm`` (from truth alone)."""
    k, j, i = np.indices(volume.array.shape)
    xyz = volume.index_to_patient(np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1))
    d = xyz - np.asarray(lesion["centre_mm"])
    u = np.asarray(lesion["long_axis_direction"])
    v = np.array([-u[1], u[0], 0.0])
    semi = (
        np.array([lesion["long_axis_mm"], lesion["short_axis_mm"], lesion["max_3d_diameter_mm"]])
        / 2.0
    )
    c = 3.0 * lesion["volume_mm3"] / (4.0 * np.pi * semi[0] * semi[1])
    axes = np.array([semi[0], semi[1], c]) + grow_mm
    q = (d @ u / axes[0]) ** 2 + (d @ v / axes[1]) ** 2 + (d[:, 2] / axes[2]) ** 2
    return (q <= 1.0).reshape(volume.array.shape)


def test_rendered_volume_matches_truth(fine_patient: SyntheticPatient) -> None:
    """Voxels above the lung/nodule midpoint HU, counted, agree with volume_mm3."""
    tp = fine_patient.timepoints[0]
    big = [x for x in tp.lesions if x["type"] == "solid" and x["long_axis_mm"] >= 15.0]
    assert big
    for lesion in big:
        near = _ellipsoid_mask(tp.volume, lesion, 2.0)
        counted = np.count_nonzero(near & (tp.volume.array > -410)) * tp.volume.voxel_volume_mm3
        assert counted == pytest.approx(lesion["volume_mm3"], rel=0.05)


def test_baseline_to_scan_moves_the_bones_as_stated(small_patient: SyntheticPatient) -> None:
    base = small_patient.timepoints[0].volume
    k, j, i = np.nonzero(base.array > 400)
    points = base.index_to_patient(np.stack([i, j, k], axis=1))
    for tp in small_patient.timepoints[1:]:
        m = np.asarray(tp.baseline_to_scan)
        assert np.allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3))
        shift = np.linalg.norm(m[:3, 3])
        assert 5.0 <= shift <= 20.0

        def bone_fraction(matrix: np.ndarray, vol=tp.volume) -> float:
            moved = points @ matrix[:3, :3].T + matrix[:3, 3]
            ijk = np.rint(vol.patient_to_index(moved)).astype(int)
            inside = np.all((ijk >= 0) & (ijk < vol.shape_ijk), axis=1)
            ijk = ijk[inside]
            return float(np.mean(vol.array[ijk[:, 2], ijk[:, 1], ijk[:, 0]] > 150))

        assert bone_fraction(m) > 0.8
        assert bone_fraction(np.eye(4)) < bone_fraction(m) - 0.2


def test_landmarks_follow_the_transform(small_patient: SyntheticPatient) -> None:
    base = small_patient.timepoints[0].landmarks
    for tp in small_patient.timepoints[1:]:
        m = np.asarray(tp.baseline_to_scan)
        for name, point in base.items():
            expected = m[:3, :3] @ np.asarray(point) + m[:3, 3]
            np.testing.assert_allclose(tp.landmarks[name], expected, atol=1e-2)


def test_dates_are_months_apart(small_patient: SyntheticPatient) -> None:
    days = [tp.date for tp in small_patient.timepoints]
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    assert all(75 <= g <= 105 for g in gaps)


@pytest.mark.parametrize(("slices", "spacing"), [(300, 1.0), (120, 2.5), (250, 1.25), (40, 5.0)])
def test_slice_spacing_covers_the_chest(slices: int, spacing: float) -> None:
    assert slice_spacing_mm(slices) == spacing


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"timepoints": 0}, "timepoints"), ({"slices": 8}, "slices"), ({"slices": 999}, "slices")],
)
def test_bad_arguments_raise_input_error(kwargs: dict[str, int], word: str) -> None:
    with pytest.raises(InputError, match=word):
        generate_patient(1, **kwargs)


def _ring_hu(volume, lesion, beyond_mm: float) -> np.ndarray:
    """Mean-free HU samples on an axial ring ``beyond_mm`` outside the lesion surface."""
    u = np.asarray(lesion["long_axis_direction"])
    v = np.array([-u[1], u[0], 0.0])
    a, b = lesion["long_axis_mm"] / 2, lesion["short_axis_mm"] / 2
    phi = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    radius = 1.0 / np.sqrt((np.cos(phi) / a) ** 2 + (np.sin(phi) / b) ** 2) + beyond_mm
    pts = np.asarray(lesion["centre_mm"]) + radius[:, None] * (
        np.cos(phi)[:, None] * u + np.sin(phi)[:, None] * v
    )
    i, j, k = np.rint(volume.patient_to_index(pts)).astype(int).T
    return np.asarray(volume.array[k, j, i], dtype=float)


def test_only_the_juxtapleural_nodule_touches_the_chest_wall(
    fine_patient: SyntheticPatient,
) -> None:
    tp = fine_patient.timepoints[0]
    lung = [x for x in tp.lesions if x["organ"] == "lung" and x["long_axis_mm"] >= 5.0]
    touching = {x["lesion_id"] for x in lung if np.max(_ring_hu(tp.volume, x, 2.5)) > -300}
    assert touching == {x["lesion_id"] for x in lung if x["juxtapleural"]}
    assert len(touching) == 1


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
    months=st.integers(0, 120),
)
def test_add_months_lands_in_the_target_month(day: date, months: int) -> None:
    later = _add_months(day, months)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    assert later.day == day.day or (later.day < day.day and (later + timedelta(days=1)).day == 1)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_repositioning_is_a_small_rigid_motion_about_z(seed: int) -> None:
    m = _repositioning(np.random.default_rng(seed))
    rot = m[:3, :3]
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    np.testing.assert_allclose(rot[2], [0, 0, 1], atol=1e-12)
    degrees = np.degrees(abs(np.arctan2(rot[1, 0], rot[0, 0])))
    assert 1.5 <= degrees <= 4.0
    assert 6.0 - 1e-9 <= np.linalg.norm(m[:3, 3]) <= 18.0 + 1e-9
    np.testing.assert_array_equal(m[3], [0, 0, 0, 1])


def test_a_foam_table_lies_under_the_patient(small_patient: SyntheticPatient) -> None:
    for tp in small_patient.timepoints:
        v = tp.volume
        x = v.origin[0] + v.spacing[0] * np.arange(v.shape_ijk[0])
        y = v.origin[1] + v.spacing[1] * np.arange(v.shape_ijk[1])
        central = v.array[:, :, np.abs(x) < 60.0].astype(float)
        profile = np.median(central, axis=(0, 2))  # one value per row, top to bottom
        bottom = y[np.flatnonzero(profile > -500.0)].max()  # the table's lower skin
        foam = profile[(y > bottom - 22.0) & (y < bottom - 6.0)]
        assert foam.size
        assert np.all((foam > -975.0) & (foam < -925.0))  # foam core, about -950 HU
        assert np.all(profile[y > bottom + 6.0] < -975.0)  # air under the table
        patient = (profile > -150.0) & (y > bottom - 90.0) & (y < bottom - 30.0)
        assert patient.sum() * v.spacing[1] > 25.0  # the patient lies right on it


def test_lesion_centres_follow_the_transform_and_stay_in_view(
    small_patient: SyntheticPatient,
) -> None:
    base = {x["lesion_id"]: np.asarray(x["centre_mm"]) for x in small_patient.timepoints[0].lesions}
    for tp in small_patient.timepoints:
        m = np.asarray(tp.baseline_to_scan)
        for lesion in tp.lesions:
            assert tp.volume.contains([lesion["centre_mm"]])
            if lesion["lesion_id"] in base:
                expected = m[:3, :3] @ base[lesion["lesion_id"]] + m[:3, 3]
                np.testing.assert_allclose(lesion["centre_mm"], expected, atol=1e-2)


def test_noise_has_the_stated_amplitude_and_is_correlated(fine_patient: SyntheticPatient) -> None:
    """Air in front of the patient: -1000 HU plus the noise alone."""
    v = fine_patient.timepoints[0].volume
    y = v.origin[1] + v.spacing[1] * np.arange(v.shape_ijk[1])
    air = v.array[:, y < -165.0, :].astype(float)  # the chest's front is at about -100
    assert np.mean(air) == pytest.approx(-1000.0, abs=2.0)
    # Values below -1024 HU are clipped (1.8 sigma at most), which trims the spread a bit.
    assert np.std(air) == pytest.approx(fine_patient.noise_hu, rel=0.1)
    residual = air + 1000.0
    # Neighbouring pixels share part of their noise (the blur); slices do not.
    in_plane = np.corrcoef(residual[:, :, 1:].ravel(), residual[:, :, :-1].ravel())[0, 1]
    across = np.corrcoef(residual[1:].ravel(), residual[:-1].ravel())[0, 1]
    assert in_plane > 0.2
    assert abs(across) < 0.05
