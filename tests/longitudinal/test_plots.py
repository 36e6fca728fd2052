"""The two charts come out as PNG images, also for a course without follow-ups."""

from __future__ import annotations

import io
from datetime import date

from matplotlib.image import imread

from radcycle.longitudinal.plots import trajectory_chart, waterfall_chart
from radcycle.longitudinal.tracking import ScanLesions, observed, track_lesions
from radcycle.longitudinal.trajectories import build_trajectories


def _trajectories(count: int):
    scans = [
        ScanLesions(
            f"1.{t}",
            tuple(observed((40.0 * i, 0.0, 0.0), 20.0 - 4 * t + 2 * i, 10.0) for i in range(3)),
        )
        for t in range(count)
    ]
    dates = [date(2025, 1 + 3 * t, 1) for t in range(count)]
    return build_trajectories(track_lesions(scans, patient_key="P"), dates, ["1.9"] * count)


def test_charts_are_png_images() -> None:
    trajectories = _trajectories(3)
    for png in (trajectory_chart(trajectories), waterfall_chart(trajectories)):
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        image = imread(io.BytesIO(png), format="png")
        assert image.shape[0] > 200
        assert image.shape[1] > 300


def test_waterfall_without_follow_up_is_still_an_image() -> None:
    png = waterfall_chart(_trajectories(1))
    assert png[:4] == b"\x89PNG"
    with_sum = waterfall_chart(_trajectories(3), sum_best_pct=-35.0)
    assert with_sum != waterfall_chart(_trajectories(3))
