"""Mask helpers: the distance transform that click-to-segment and detection use."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from radcycle.imaging.masks import distance_mm


@pytest.mark.parametrize("seed", range(5))
def test_distance_mm_is_scipys_euclidean_distance(seed: int) -> None:
    """Random blobs at random anisotropic spacing: the values of scipy's exact EDT."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(5, 40, size=3))
    mask = ndi.gaussian_filter(rng.random(shape), 2.0) > 0.5
    spacing = tuple(float(s) for s in rng.uniform(0.3, 5.0, size=3))
    expected = ndi.distance_transform_edt(mask, sampling=spacing)
    got = distance_mm(mask, spacing)
    assert got.dtype == np.float64
    assert got.shape == mask.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert np.all(got[~mask] == 0.0)


def test_distance_mm_of_a_mask_with_no_background_is_finite() -> None:
    """With no False voxel to measure from, scipy's convention holds (no inf)."""
    mask = np.ones((3, 4, 5), dtype=bool)
    spacing = np.array([2.0, 1.0, 0.5])
    got = distance_mm(mask, spacing)
    assert np.all(np.isfinite(got))
    np.testing.assert_array_equal(got, ndi.distance_transform_edt(mask, sampling=spacing))


def test_distance_mm_of_a_large_region_is_scipys_too() -> None:
    """A region as large as click-to-segment's, where the faster transform is used."""
    rng = np.random.default_rng(9)
    mask = ndi.gaussian_filter(rng.random((40, 130, 130)), 3.0) > 0.5
    spacing = (3.0, 0.98, 0.98)
    np.testing.assert_allclose(
        distance_mm(mask, spacing),
        ndi.distance_transform_edt(mask, sampling=spacing),
        rtol=1e-5,
        atol=1e-5,
    )
