"""Morphology: exact FFT Moran's I / Geary's C, and mesh-based shape of a ball."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from radcycle.imaging.radiomics.configs import CONFIGS
from radcycle.imaging.radiomics.morphology import morphology_features, spatial_autocorrelation
from radcycle.imaging.radiomics.preprocess import prepare


def _brute_force(image: np.ndarray, roi: np.ndarray, spacing: np.ndarray) -> tuple[float, float]:
    pos = np.argwhere(roi) * spacing
    x = image[roi]
    n = len(x)
    d = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)
    w = 1.0 / d
    dev = x - x.mean()
    moran = n / w.sum() * (w * np.outer(dev, dev)).sum() / (dev**2).sum()
    geary = (n - 1) / (2 * w.sum()) * (w * (x[:, None] - x[None, :]) ** 2).sum() / (dev**2).sum()
    return float(moran), float(geary)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shape=st.tuples(st.integers(2, 6), st.integers(2, 7), st.integers(2, 7)),
    spacing=st.tuples(st.floats(0.5, 3.0), st.floats(0.5, 3.0), st.floats(0.5, 3.0)),
)
def test_fft_autocorrelation_equals_all_pairs(
    seed: int, shape: tuple[int, int, int], spacing: tuple[float, float, float]
) -> None:
    rng = np.random.default_rng(seed)
    image = rng.normal(0, 10, shape)
    roi = rng.random(shape) < 0.6
    roi.flat[0] = True
    roi.flat[-1] = True
    sp = np.asarray(spacing)
    fast = spatial_autocorrelation(image, roi, sp)
    slow = _brute_force(image, roi, sp)
    assert np.allclose(fast, slow, rtol=1e-8, atol=1e-10)


def test_ball_shape_features() -> None:
    radius = 12.0
    grid = np.indices((31, 31, 31)) - 15.0
    ball = (np.sqrt((grid**2).sum(axis=0)) <= radius).astype(np.uint8)
    image = np.where(ball > 0, 100.0, 0.0)
    p = prepare(image, ball, (1.0, 1.0, 1.0), CONFIGS["ibsi-phantom"])
    f = morphology_features(p)
    true_volume = 4.0 / 3.0 * np.pi * radius**3
    assert abs(f["morph_volume"] - true_volume) / true_volume < 0.03
    assert 0.85 < f["morph_sphericity"] <= 1.0
    assert abs(f["morph_diam"] - 2 * radius) < 2.0
    assert abs(f["morph_pca_elongation"] - 1.0) < 0.01
    assert f["morph_com"] < 1e-9
    assert np.isclose(f["morph_integ_int"], f["morph_volume"] * 100.0)
