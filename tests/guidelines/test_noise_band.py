"""The noise band of a diameter and of a sum's change, and the thresholds near them."""

from __future__ import annotations

import pytest

from radcycle.guidelines.noise_band import (
    REPEAT_FLOOR_MM,
    change_band_pct,
    near_change_thresholds,
    near_size_thresholds,
    noise_band_mm,
)


def test_band_has_a_floor_then_grows_with_size() -> None:
    assert noise_band_mm(3.0) == pytest.approx(1.96 * REPEAT_FLOOR_MM)
    assert noise_band_mm(40.0) == pytest.approx(1.96 * 0.025 * 40.0)
    assert noise_band_mm(40.0) > noise_band_mm(20.0)


@pytest.mark.parametrize(
    ("long", "short", "lung", "node", "labels"),
    [
        (8.3, 7.5, True, False, ["Lung-RADS v2022 8 mm"]),  # mean 7.9 near 8
        (9.0, 8.0, True, False, ["Lung-RADS v2022 8 mm"]),  # mean 8.5, band 0.78
        (11.0, 9.4, True, False, []),  # mean 10.2; long axis 1 mm from 10, band 0.78
        (6.2, 5.6, True, False, ["Lung-RADS v2022 6 mm"]),
        (15.4, 14.0, True, False, ["Lung-RADS v2022 15 mm"]),
        (10.3, 9.0, False, False, ["RECIST 1.1 10 mm"]),
        (10.3, 9.0, False, True, []),  # a node is measured by its short axis
        (30.0, 20.0, True, False, []),
    ],
)
def test_size_thresholds(
    long: float, short: float, lung: bool, node: bool, labels: list[str]
) -> None:
    found = near_size_thresholds(long, short, lung, node)
    assert [n.label for n in found] == labels


def test_change_band_and_response_thresholds() -> None:
    # 50 mm at baseline, 59 mm now (+18 %): both sums' SDs (2.5 %) carried into the change
    sd0, sd1 = 0.025 * 50.0, 0.025 * 59.0
    expected = 1.96 * 100 * ((sd1**2 + (59.0 / 50.0) ** 2 * sd0**2) ** 0.5) / 50.0
    assert change_band_pct([50.0], [59.0]) == pytest.approx(expected)
    assert expected == pytest.approx(8.18, abs=0.01)
    assert [n.label for n in near_change_thresholds(18.0, [50.0], [59.0])] == ["RECIST 1.1 +20%"]
    assert [n.label for n in near_change_thresholds(-28.0, [50.0], [36.0])] == ["RECIST 1.1 -30%"]
    assert near_change_thresholds(5.0, [50.0], [52.5]) == []
