"""The anatomy model: compartments where they belong, fissures that split the lobes."""

from __future__ import annotations

import numpy as np
import pytest

from radcycle.synth.anatomy import HU, Anatomy, Region

ANAT = Anatomy()


def _slice(z: float, pixel: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    axis = -190.0 + pixel * np.arange(int(380 / pixel))
    x, y = np.meshgrid(axis, axis)
    image = ANAT.render_slice(ANAT.plane_fields(x, y), z, np.zeros(x.shape, np.uint8))
    return x, y, image


@pytest.mark.parametrize(
    ("point", "region"),
    [
        ((-80.0, 10.0, -40.0), Region.RIGHT_LUNG),
        ((80.0, 10.0, -40.0), Region.LEFT_LUNG),
        ((0.0, 16.0, -60.0), Region.MEDIASTINUM),  # below the carina, between the lungs
        ((-70.0, 10.0, -230.0), Region.LIVER),
        ((0.0, -160.0, 0.0), Region.OUTSIDE),  # in front of the chest
        ((250.0, 0.0, -40.0), Region.OUTSIDE),
    ],
)
def test_regions(point: tuple[float, float, float], region: int) -> None:
    assert ANAT.region_at([point])[0] == region


def test_major_fissure_separates_upper_and_lower_lobes() -> None:
    z = -40.0
    x, y, image = _slice(z)
    column = np.argmin(np.abs(x[0] - 95.0))  # left lung, lateral to the heart
    # The fissure crosses this slice where its height equals z.
    fields = ANAT.plane_fields(x[:, column], y[:, column])
    row = int(np.argmin(np.abs(fields.major_fissure_z - z)))
    assert image[row, column] == pytest.approx(HU["fissure"])
    step = 8  # 4 mm either side: parenchyma, about -860 HU
    assert image[row - step, column] < -800
    assert image[row + step, column] < -800
    front = (x[0, column], y[row - step, column], z)
    back = (x[0, column], y[row + step, column], z)
    assert ANAT.lobe_at([front, back]) == ["LUL", "LLL"]


def test_right_lung_has_three_lobes() -> None:
    lobes = ANAT.lobe_at([(-80.0, -40.0, 20.0), (-80.0, -40.0, -60.0), (-80.0, 60.0, -90.0)])
    assert lobes == ["RUL", "RML", "RLL"]
    assert ANAT.lobe_at([(0.0, 0.0, 0.0)]) == [None]


def test_every_tissue_value_is_a_ct_number() -> None:
    for z in (60.0, 0.0, -60.0, -130.0, -200.0):
        _, _, image = _slice(z, pixel=1.5)
        assert image.min() >= -1000.0
        assert image.max() <= 1000.0
        lung = image < -800
        assert lung.mean() > (0.05 if z > -180 else 0.0)
