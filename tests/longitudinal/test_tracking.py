"""Lesion tracking: optimal assignment after registration, gates, new/missing/merged/split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radcycle.domain.identity import validate_uid
from radcycle.errors import InputError
from radcycle.longitudinal.tracking import (
    PointStatus,
    ScanLesions,
    observed,
    to_baseline,
    track_lesions,
)


def _shift(t: tuple[float, float, float], angle_deg: float = 0.0) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    m = np.eye(4)
    m[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    m[:3, 3] = t
    return m


def _moved(m: np.ndarray, p: tuple[float, float, float]) -> tuple[float, float, float]:
    q = m[:3, :3] @ np.asarray(p) + m[:3, 3]
    return (float(q[0]), float(q[1]), float(q[2]))


BASE = [
    ((0.0, 0.0, 0.0), 20.0, 15.0, "A"),
    ((11.0, 0.0, 0.0), 5.0, 4.0, "B"),  # small nodule beside A
    ((60.0, -30.0, 40.0), 12.0, 9.0, "C"),
]


def _scan(
    key: str, m: np.ndarray, items: list[tuple[tuple[float, float, float], float, float, str]]
):
    obs = tuple(observed(_moved(m, c), long, short, key=name) for c, long, short, name in items)
    return ScanLesions(key, obs, m)


def _keys(track) -> list[str | None]:
    return [p.observation.key if p and p.observation else None for p in track.points]


def test_repositioned_followup_is_matched_by_identity() -> None:
    move = _shift((14.0, -9.0, 6.0), 3.0)
    scans = [_scan("1.1", np.eye(4), BASE), _scan("1.2", move, BASE)]
    tracks = track_lesions(scans, patient_key="P1")
    assert {tuple(_keys(t)) for t in tracks} == {("A", "A"), ("B", "B"), ("C", "C")}
    assert [t.tracking_identifier for t in tracks] == ["lesion 1", "lesion 2", "lesion 3"]
    assert _keys(tracks[0]) == ["A", "A"]  # numbered by baseline size


def test_without_registration_the_same_motion_breaks_matching() -> None:
    """The registration matters: ignoring a 14 mm shift mismatches the close pair."""
    move = _shift((14.0, -9.0, 6.0), 3.0)
    wrong = ScanLesions("1.2", _scan("1.2", move, BASE).observations, np.eye(4))
    tracks = track_lesions([_scan("1.1", np.eye(4), BASE), wrong], patient_key="P1")
    assert {tuple(_keys(t)) for t in tracks} != {("A", "A"), ("B", "B"), ("C", "C")}


def test_new_and_missing_lesions() -> None:
    follow = [BASE[0], BASE[2], ((-50.0, 20.0, -10.0), 8.0, 6.0, "D")]
    tracks = track_lesions(
        [_scan("1.1", np.eye(4), BASE), _scan("1.2", np.eye(4), follow)], patient_key="P"
    )
    by_key = {_keys(t)[0] or _keys(t)[1]: t for t in tracks}
    assert by_key["B"].points[1].status is PointStatus.MISSING
    assert by_key["D"].points[1].status is PointStatus.NEW
    assert by_key["D"].points[0] is None
    assert by_key["D"].tracking_identifier == "lesion 4"


def test_gate_rejects_far_lesion() -> None:
    base = [((0.0, 0.0, 0.0), 6.0, 5.0, "A")]
    far = [((40.0, 0.0, 0.0), 6.0, 5.0, "A2")]
    tracks = track_lesions(
        [_scan("1", np.eye(4), base), _scan("2", np.eye(4), far)], patient_key="P"
    )
    assert [t.points[1].status for t in tracks] == [PointStatus.MISSING, PointStatus.NEW]


def test_nodes_never_match_lung_nodules() -> None:
    a = ScanLesions("1", (observed((0.0, 0.0, 0.0), 15.0, 12.0, is_lymph_node=True),))
    b = ScanLesions("2", (observed((1.0, 0.0, 0.0), 15.0, 12.0),))
    tracks = track_lesions([a, b], patient_key="P")
    assert len(tracks) == 2


def test_merge_and_split() -> None:
    two = [((0.0, 0.0, 0.0), 10.0, 8.0, "A"), ((9.0, 0.0, 0.0), 8.0, 7.0, "B")]
    one = [((4.0, 0.0, 0.0), 22.0, 12.0, "AB")]
    merged = track_lesions(
        [_scan("1", np.eye(4), two), _scan("2", np.eye(4), one)], patient_key="P"
    )
    statuses = sorted(t.points[1].status.value for t in merged)
    assert statuses == ["matched", "merged"]
    assert (
        "merged into lesion"
        in next(t for t in merged if t.points[1].observation is None).points[1].note
    )
    split = track_lesions([_scan("1", np.eye(4), one), _scan("2", np.eye(4), two)], patient_key="P")
    assert [t.points[1].status.value for t in split] == ["matched", "split"]
    assert split[1].parent == "lesion 1"


@pytest.mark.parametrize("swap", [False, True])
def test_appearance_breaks_a_tie_in_distance_and_size(swap: bool) -> None:
    solid = observed((0.0, 0.0, 0.0), 8.0, 7.0, nodule_type="solid", mean_hu=20.0, key="S")
    glass = observed(
        (10.0, 0.0, 0.0), 8.0, 7.0, nodule_type="ground-glass", mean_hu=-650.0, key="G"
    )
    later = [
        observed((5.0, 0.0, 0.0), 8.0, 7.0, nodule_type="ground-glass", mean_hu=-640.0, key="G"),
        observed((5.0, 0.5, 0.0), 8.0, 7.0, nodule_type="solid", mean_hu=25.0, key="S"),
    ]
    if swap:
        later.reverse()
    tracks = track_lesions(
        [ScanLesions("1", (solid, glass)), ScanLesions("2", tuple(later))], patient_key="P"
    )
    assert {tuple(_keys(t)) for t in tracks} == {("S", "S"), ("G", "G")}


def test_tracking_uids_are_valid_stable_and_distinct() -> None:
    scans = [_scan("1.1", np.eye(4), BASE)]
    first = track_lesions(scans, patient_key="P1")
    again = track_lesions(scans, patient_key="P1")
    other = track_lesions(scans, patient_key="P2")
    uids = [t.tracking_uid for t in first]
    assert uids == [t.tracking_uid for t in again]
    assert len(set(uids)) == len(uids)
    assert not set(uids) & {t.tracking_uid for t in other}
    for uid in uids:
        validate_uid(uid)


def test_rejects_empty_and_bad_input() -> None:
    with pytest.raises(InputError):
        track_lesions([], patient_key="P")
    with pytest.raises(InputError):
        observed((0.0, float("nan"), 0.0))
    with pytest.raises(InputError):
        ScanLesions("1", (), np.eye(3))


@settings(max_examples=40, deadline=None)
@given(
    perm=st.permutations(range(len(BASE))),
    tx=st.tuples(*[st.floats(-20, 20)] * 3),
    angle=st.floats(-5, 5),
)
def test_matching_is_invariant_to_order_and_known_motion(perm, tx, angle) -> None:
    move = _shift(tx, angle)
    follow = _scan("2", move, [BASE[i] for i in perm])
    tracks = track_lesions([_scan("1", np.eye(4), BASE), follow], patient_key="P")
    assert {tuple(_keys(t)) for t in tracks} == {("A", "A"), ("B", "B"), ("C", "C")}
    for t in tracks:
        back = np.asarray(t.points[1].centre_baseline_mm)
        assert np.allclose(back, t.points[0].centre_baseline_mm, atol=1e-2)


@given(p=st.tuples(*[st.floats(-300, 300)] * 3), tx=st.tuples(*[st.floats(-50, 50)] * 3))
def test_to_baseline_inverts_the_registration(p, tx) -> None:
    m = _shift(tx, 7.0)
    scan = ScanLesions("1", (), m)
    assert np.allclose(to_baseline(scan, _moved(m, p)), p, atol=1e-6)
