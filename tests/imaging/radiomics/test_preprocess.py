"""Interpolation grid, re-segmentation and discretisation (IBSI 1 chapter 2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radcycle.errors import AnalysisError, InputError
from radcycle.imaging.radiomics.configs import (
    CONFIGS,
    Discretisation,
    RadiomicsConfig,
    TextureDim,
    get_config,
)
from radcycle.imaging.radiomics.preprocess import _axis_grid, discretise, prepare


@given(
    n=st.integers(2, 300),
    s=st.floats(0.3, 5.0),
    t=st.floats(0.3, 5.0),
)
def test_grid_keeps_centre_and_covers_extent(n: int, s: float, t: float) -> None:
    coords, spacing = _axis_grid(n, s, t)
    assert spacing == t
    assert len(coords) == int(np.ceil(n * s / t - 1e-9))
    # Grid-centre alignment: the mean position (old index units) is unchanged.
    assert np.isclose(coords.mean(), (n - 1) / 2.0)
    assert np.allclose(np.diff(coords), t / s)


@given(
    values=st.lists(st.floats(-1000, 3000), min_size=2, max_size=200),
    bins=st.integers(2, 64),
)
def test_fixed_bin_number_levels_in_range(values: list[float], bins: int) -> None:
    x = np.asarray(values)
    levels, ng = discretise(x, Discretisation("fbn", bins), 0.0)
    assert ng == bins
    assert levels.min() >= 1
    assert levels.max() <= bins
    if x.max() > x.min():
        assert levels[np.argmax(x)] == bins
        assert levels[np.argmin(x)] == 1
    # Monotone: a higher intensity never gets a lower level.
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(levels[order]) >= 0)


@settings(max_examples=50)
@given(values=st.lists(st.floats(-500, 400), min_size=1, max_size=100))
def test_fixed_bin_size_edges(values: list[float]) -> None:
    x = np.asarray(values)
    levels, _ = discretise(x, Discretisation("fbs", 25.0), -500.0)
    lower = -500.0 + (levels - 1) * 25.0
    assert np.all(x >= lower - 1e-9)
    assert np.all(x < lower + 25.0 + 1e-9)


def test_resegmentation_range_and_outliers() -> None:
    rng = np.random.default_rng(0)
    image = rng.normal(0.0, 50.0, (10, 12, 12))
    image[5, 5, 5] = 5000.0
    mask = np.zeros(image.shape)
    mask[2:8, 2:10, 2:10] = 1
    outliers = RadiomicsConfig("outliers", (TextureDim.D3,), outlier_sigma=3.0)
    p = prepare(image, mask, (2.0, 1.0, 1.0), outliers)
    assert p.morph.sum() == mask.sum()
    assert not p.roi[tuple(np.argwhere(p.image == 5000.0)[0])]
    assert p.roi.sum() < p.morph.sum()
    q = prepare(image, mask, (2.0, 1.0, 1.0), CONFIGS["ibsi-a"])
    assert q.image[q.roi].min() >= -500.0
    assert q.image[q.roi].max() <= 400.0


def test_bad_masks_raise_typed_errors() -> None:
    image = np.zeros((5, 5, 5))
    with pytest.raises(InputError, match="empty"):
        prepare(image, np.zeros((5, 5, 5)), (1, 1, 1), CONFIGS["default"])
    with pytest.raises(InputError, match="grid"):
        prepare(image, np.ones((5, 5, 4)), (1, 1, 1), CONFIGS["default"])
    mask = np.zeros((5, 5, 5))
    mask[2, 2, 2] = 1
    image[2, 2, 2] = 5000.0
    with pytest.raises(AnalysisError, match="re-segmentation"):
        prepare(image, mask, (1, 1, 1), CONFIGS["ibsi-a"])
    with pytest.raises(InputError, match="unknown radiomics config"):
        get_config("ibsi-z")


def test_no_discretisation_needs_positive_levels() -> None:
    with pytest.raises(AnalysisError, match="grey levels >= 1"):
        discretise(np.array([-3.0, 2.0]), Discretisation("none"), 0.0)
