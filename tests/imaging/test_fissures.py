"""Fissure lines and the perifissural flag on small phantoms.

The evaluation over synthetic patients (flagged / not flagged against the truth)
is in ``benchmarks/bench_lung.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from radcycle.domain import Geometry, Volume
from radcycle.imaging.fissures import fissure_lines, is_perifissural, level_sheets

SPACING = (2.5, 0.75, 0.75)  # (k, j, i) mm, as a low-dose chest CT
SHAPE = (16, 96, 96)


def _points() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k, j, i = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    return k * SPACING[0], j * SPACING[1], i * SPACING[2]


def _lung(
    sheet: bool = True, vessel: bool = False, nodule_y: float | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Lung with an oblique fissure (1 mm sheet, dz/dy 1.1) and a 8 mm nodule."""
    z, y, x = _points()
    values = np.full(SHAPE, -860.0)
    if sheet:  # the oblique fissure: z = 20 + 1.1 (y - 36)
        distance = np.abs(z - 20.0 - 1.1 * (y - 36.0)) / np.hypot(1.0, 1.1)
        values[distance <= 0.5] = -650.0
    if vessel:  # a 2 mm vessel along x past the nodule
        values[np.hypot(z - 20.0, y - 41.5) <= 1.0] = 30.0
    nodule = np.zeros(SHAPE, dtype=bool)
    if nodule_y is not None:
        nodule = np.sqrt((z - 20.0) ** 2 + (y - nodule_y) ** 2 + (x - 36.0) ** 2) <= 4.0
        values[nodule] = 40.0
    values = ndi.gaussian_filter(values, (0.4, 0.6, 0.6))
    values += np.random.default_rng(seed).normal(0.0, 15.0, SHAPE)
    return values, nodule


def _volume(values: np.ndarray) -> Volume:
    return Volume(values, Geometry((0.0, 0.0, 0.0), (SPACING[2], SPACING[1], SPACING[0])))


WHOLE = (slice(0, SHAPE[0]), slice(0, SHAPE[1]), slice(0, SHAPE[2]))


def test_an_oblique_fissure_draws_a_line_on_each_slice() -> None:
    values, _ = _lung()
    lines = fissure_lines(values, SPACING)
    z, y, _x = _points()
    on_sheet = np.abs(z - 20.0 - 1.1 * (y - 36.0)) / np.hypot(1.0, 1.1) <= 1.5
    # on every slice the line runs across the image (columns i), and nothing is off it
    found = (lines & on_sheet).any(axis=1)  # [k, i]
    assert found[:, 4:-4].mean(axis=1).min() >= 0.9
    assert not (lines & ~on_sheet).any()


def test_no_line_in_plain_lung_nor_along_a_vessel() -> None:
    values, _ = _lung(sheet=False, vessel=True)
    assert not fissure_lines(values, SPACING).any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_nodule_on_the_fissure_is_perifissural(seed: int) -> None:
    values, nodule = _lung(nodule_y=38.0, seed=seed)  # the sheet passes 2 mm off its centre
    assert is_perifissural(_volume(values), WHOLE, nodule)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_nodule_away_from_the_fissure_or_beside_a_vessel_is_not(seed: int) -> None:
    values, nodule = _lung(nodule_y=52.0, seed=seed)  # 8 mm off the sheet
    assert not is_perifissural(_volume(values), WHOLE, nodule)
    values, nodule = _lung(sheet=False, vessel=True, nodule_y=36.0, seed=seed)
    assert not is_perifissural(_volume(values), WHOLE, nodule)


def test_an_empty_mask_is_not_perifissural() -> None:
    values, nodule = _lung()
    assert not is_perifissural(_volume(values), WHOLE, nodule)


def test_a_level_fissure_is_a_slab_not_a_line() -> None:
    # the horizontal fissure on 2.5 mm slices: a 1 mm sheet averaged into one slice
    # (-860 -> about -780 HU) over a wide area; a vessel lying in a slice is not flat
    values = np.full(SHAPE, -860.0)
    values[8, 10:-10, 10:-10] = -780.0
    z, y, _x = _points()
    values[(np.hypot(z - 10.0, y - 40.0) <= 1.0)] = 30.0  # a vessel along x on slice 4
    values += np.random.default_rng(0).normal(0.0, 15.0, SHAPE)
    sheets = level_sheets(values, SPACING)
    assert sheets[8, 20:-20, 20:-20].mean() > 0.9
    assert not sheets[3:6].any()
    assert not fissure_lines(values, SPACING)[8].any()
