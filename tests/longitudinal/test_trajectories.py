"""Per-lesion trajectories: change from baseline and from the nadir before each date."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radcycle.errors import InputError
from radcycle.longitudinal.tracking import ScanLesions, observed, track_lesions
from radcycle.longitudinal.trajectories import build_trajectories, percent

DATES = [date(2025, 1, 10), date(2025, 4, 10), date(2025, 7, 10), date(2025, 10, 10)]
UIDS = ["1.2.1", "1.2.2", "1.2.3", "1.2.4"]


def _course(longs: list[float], node: bool = False):
    scans = [
        ScanLesions(
            f"1.{i}", (observed((0.0, 0.0, 0.0), v, v * 0.8, v**3 / 2, is_lymph_node=node),)
        )
        for i, v in enumerate(longs)
    ]
    return track_lesions(scans, patient_key="P")


def test_change_from_baseline_and_nadir() -> None:
    (traj,) = build_trajectories(_course([20.0, 14.0, 12.0, 15.0]), DATES, UIDS)
    pts = traj.points
    assert [p.change_from_baseline_pct for p in pts] == [0.0, -30.0, -40.0, -25.0]
    assert [p.nadir_mm for p in pts] == [None, 20.0, 14.0, 12.0]
    assert pts[3].change_from_nadir_pct == 25.0
    assert traj.best_change_pct == -40.0
    assert pts[2].series_instance_uid == "1.2.3"
    assert traj.to_dict()["points"][1]["date"] == "2025-04-10"


def test_nodes_follow_their_short_axis() -> None:
    (traj,) = build_trajectories(_course([20.0, 10.0], node=True), DATES[:2], UIDS[:2])
    assert traj.points[1].diameter_mm == pytest.approx(8.0)
    assert traj.points[1].change_from_baseline_pct == -50.0


def test_mismatched_inputs_raise() -> None:
    with pytest.raises(InputError):
        build_trajectories(_course([20.0, 14.0]), DATES[:2], UIDS[:1])
    with pytest.raises(InputError):
        build_trajectories(_course([20.0, 14.0]), DATES[:3], UIDS[:3])


@given(st.lists(st.floats(1.0, 100.0), min_size=2, max_size=4))
def test_nadir_is_the_smallest_earlier_diameter(longs: list[float]) -> None:
    (traj,) = build_trajectories(_course(longs), DATES[: len(longs)], UIDS[: len(longs)])
    for i, p in enumerate(traj.points[1:], start=1):
        assert p.nadir_mm == pytest.approx(min(longs[:i]))
        expected = percent(longs[i], min(longs[:i]))
        assert p.change_from_nadir_pct == expected
    assert np.isclose(traj.points[0].change_from_baseline_pct or 0.0, 0.0)
