"""The orchestrator on degenerate and ordinary ROIs: every tag, no warnings."""

from __future__ import annotations

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.errors import GeometryError
from radcycle.imaging.radiomics import compute_features, radiomics_for_lesion

SHAPE = (10, 12, 12)


def _image(seed: int = 0) -> Volume:
    rng = np.random.default_rng(seed)
    return Volume(rng.normal(0, 100, SHAPE), Geometry((0, 0, 0), (0.8, 0.8, 2.0)))


def _mask(*box: slice) -> np.ndarray:
    m = np.zeros(SHAPE, dtype=np.uint8)
    m[box] = 1
    return m


@pytest.mark.parametrize(
    "box",
    [
        (slice(5, 6), slice(6, 7), slice(6, 7)),  # one voxel
        (slice(5, 6), slice(3, 9), slice(3, 9)),  # one slice
        (slice(0, 3), slice(0, 2), slice(0, 12)),  # touching the grid edge
        (slice(2, 8), slice(3, 9), slice(2, 10)),  # a box
    ],
)
@pytest.mark.parametrize("config", ["default", "ibsi-a"])
def test_same_tags_for_any_roi(box: tuple[slice, ...], config: str) -> None:
    image = _image()
    reference = compute_features(image, image.with_array(_mask(*CUBE)), config)
    features = compute_features(image, image.with_array(_mask(*box)), config)
    assert features.keys() == reference.keys()
    assert features["stat_min"] <= features["stat_mean"] <= features["stat_max"]


CUBE = (slice(2, 8), slice(3, 9), slice(2, 10))


def test_features_are_translation_invariant_without_resampling() -> None:
    image = _image(1)
    a = compute_features(
        image, image.with_array(_mask(slice(2, 6), slice(2, 7), slice(2, 7))), "ibsi-a"
    )
    shifted = Volume(np.roll(image.array, (2, 3, 3), axis=(0, 1, 2)), image.geometry)
    b = compute_features(
        shifted, shifted.with_array(_mask(slice(4, 8), slice(5, 10), slice(5, 10))), "ibsi-a"
    )
    for tag in ("morph_volume", "morph_moran_i", "stat_mean", "cm_contrast_2D_avg", "szm_sze_2D"):
        assert np.isclose(a[tag], b[tag], rtol=1e-9), tag


def test_lesion_helper_uses_default_config() -> None:
    image = _image(2)
    mask = image.with_array(_mask(*CUBE))
    assert radiomics_for_lesion(image, mask) == compute_features(image, mask, "default")


def test_mask_on_another_grid_is_refused() -> None:
    image = _image()
    other = Volume(_mask(*CUBE), Geometry((1, 0, 0), (0.8, 0.8, 2.0)))
    with pytest.raises(GeometryError, match="grid"):
        compute_features(image, other)
