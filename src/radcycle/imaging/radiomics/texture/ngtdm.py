"""Neighbourhood grey tone difference matrix features (IBSI 1 section 3.11),
tags ``ngt_*``.

Each ROI voxel is compared with the mean of its ROI neighbours at Chebyshev
distance 1 (8 in-plane or 26 in 3D); voxels without any ROI neighbour are left
out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from radcycle.imaging.radiomics.configs import TextureDim
from radcycle.imaging.radiomics.texture.common import (
    GreyImage,
    aggregate_plain,
    neighbour_offsets,
)

__all__ = ["ngtdm_features"]

FloatArray = npt.NDArray[np.float64]


def _matrix(g: GreyImage, dim: str) -> tuple[FloatArray, FloatArray]:
    """Per group (slice in 2D): ``(groups, Ng, 2)`` holding n_i and s_i, and N_vc."""
    total = np.zeros(len(g.levels))
    count = np.zeros(len(g.levels))
    for d in neighbour_offsets(dim):
        nb = g.coords + np.asarray(d)
        other = g.grey[nb[:, 0], nb[:, 1], nb[:, 2]]
        total += other
        count += other > 0
    ok = count > 0
    groups = g.n_slices if dim == "2D" else 1
    group = g.coords[ok, 0] if dim == "2D" else np.zeros(int(ok.sum()), dtype=np.int64)
    level = g.levels[ok]
    idx = group * g.ng + level - 1
    size = groups * g.ng
    n = np.bincount(idx, minlength=size).astype(np.float64)
    s = np.bincount(idx, np.abs(level - total[ok] / count[ok]), minlength=size)
    m = np.stack([n, s], axis=1).reshape(groups, g.ng, 2)
    return m, m[:, :, 0].sum(axis=1)


def _features(m: FloatArray, nvc: FloatArray) -> dict[str, FloatArray]:
    n, s = m[:, :, 0], m[:, :, 1]
    lv = np.arange(1, m.shape[1] + 1, dtype=np.float64)
    p = n / nvc[:, None]
    present = p > 0
    pair = present[:, :, None] & present[:, None, :]
    d2 = np.subtract.outer(lv, lv) ** 2
    ngp = present.sum(axis=1).astype(np.float64)
    ps = (p * s).sum(axis=1)
    s_sum = s.sum(axis=1)
    ip = p * lv
    with np.errstate(divide="ignore", invalid="ignore"):
        contrast = (
            (p[:, :, None] * p[:, None, :] * d2).sum(axis=(1, 2))
            / (ngp * (ngp - 1.0))
            * s_sum
            / nvc
        )
        busy_den = np.where(pair, np.abs(ip[:, :, None] - ip[:, None, :]), 0.0).sum(axis=(1, 2))
        busyness = ps / busy_den
        pss = p * s
        frac = (pss[:, :, None] + pss[:, None, :]) / (p[:, :, None] + p[:, None, :])
        complexity = np.where(pair, np.sqrt(d2) * frac, 0.0).sum(axis=(1, 2)) / nvc
        strength = (
            np.where(pair, (p[:, :, None] + p[:, None, :]) * d2, 0.0).sum(axis=(1, 2)) / s_sum
        )
        coarseness = 1.0 / ps
    # IBSI 1: degenerate cases (one grey level, no differences) are set by convention.
    return {
        "coarseness": np.where(ps > 0, coarseness, 1e6),
        "contrast": np.where(ngp > 1, contrast, 0.0),
        "busyness": np.where(busy_den > 0, busyness, 0.0),
        "complexity": complexity,
        "strength": np.where(s_sum > 0, strength, 0.0),
    }


def ngtdm_features(g: GreyImage, dims: tuple[TextureDim, ...]) -> dict[str, float]:
    """``ngt_*`` features for the requested aggregation families."""
    per_slice = _matrix(g, "2D") if (TextureDim.D2 in dims or TextureDim.D25 in dims) else None
    volume = _matrix(g, "3D") if TextureDim.D3 in dims else None
    return aggregate_plain(per_slice, volume, dims, _features, "ngt")
