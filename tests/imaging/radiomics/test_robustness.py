"""The perturbation method: perturbations as data, ICC(1,1), features that separate cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.errors import InputError
from radcycle.imaging.radiomics.robustness import (
    PERTURBATIONS,
    feature_iccs,
    icc_1_1,
    noise_sd,
    perturbed_features,
)


def _case(radius: float, seed: int) -> tuple[Volume, Volume]:
    rng = np.random.default_rng(seed)
    k, j, i = np.indices((16, 24, 24))
    ball = (k - 8) ** 2 + (j - 12) ** 2 + (i - 12) ** 2 <= radius**2
    image = np.where(ball, 60.0, 0.0) + rng.normal(0, 5, ball.shape)
    volume = Volume(image, Geometry((0, 0, 0), (1.0, 1.0, 1.0)))
    return volume, volume.with_array(ball.astype(np.uint8))


def test_icc_separates_agreement_from_noise() -> None:
    agree = np.array([[1.0, 1.05, 0.95], [4.0, 4.1, 3.9], [8.0, 8.1, 7.9]])
    assert icc_1_1(agree) > 0.99
    disagree = np.array([[1.0, 8.0, 4.0], [4.0, 1.0, 8.0], [8.0, 4.0, 1.0]])
    assert icc_1_1(disagree) < 0
    assert math.isnan(icc_1_1(np.ones((3, 3))))


def test_noise_estimate_matches_added_noise() -> None:
    image = np.random.default_rng(0).normal(0, 20, (20, 40, 40))
    assert noise_sd(image) == pytest.approx(20, rel=0.1)


def test_volume_is_robust_across_sizes() -> None:
    cases = [perturbed_features(*_case(r, s), "default") for r, s in ((3, 1), (5, 2), (7, 3))]
    assert all(len(v) == len(PERTURBATIONS) for v in cases[0].values())
    iccs = feature_iccs(cases)
    assert iccs["morph_volume"] > 0.9


def test_icc_needs_two_cases() -> None:
    with pytest.raises(InputError, match="two cases"):
        feature_iccs([{"a": [1.0, 2.0]}])
