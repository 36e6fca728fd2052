"""Grey level co-occurrence matrix features (IBSI 1 section 3.6), tags ``cm_*``.

Symmetric matrices at Chebyshev distance 1, built for every direction (and, in
2D, every slice) with one ``bincount``; features are computed for a whole batch
of matrices at once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from radcycle.imaging.radiomics.configs import TextureDim
from radcycle.imaging.radiomics.texture.common import (
    GreyImage,
    aggregate_directional,
    directions,
)

__all__ = ["glcm_features"]

FloatArray = npt.NDArray[np.float64]


def _matrices(g: GreyImage, dim: str) -> FloatArray:
    """Counts ``(groups, directions, Ng, Ng)``; groups are slices in 2D, one in 3D."""
    dirs = directions(dim)
    ng = g.ng
    groups = g.n_slices if dim == "2D" else 1
    counts = np.zeros(groups * len(dirs) * ng * ng, dtype=np.float64)
    for n, d in enumerate(dirs):
        nb = g.coords + np.asarray(d)
        other = g.grey[nb[:, 0], nb[:, 1], nb[:, 2]]
        ok = other > 0
        a = g.levels[ok] - 1
        b = other[ok] - 1
        group = g.coords[ok, 0] if dim == "2D" else np.zeros(len(a), dtype=np.int64)
        base = (group * len(dirs) + n) * ng * ng
        counts += np.bincount(base + a * ng + b, minlength=counts.size)
        counts += np.bincount(base + b * ng + a, minlength=counts.size)
    return counts.reshape(groups, len(dirs), ng, ng)


def _entropy(p: FloatArray, axes: tuple[int, ...]) -> FloatArray:
    safe = np.where(p > 0, p, 1.0)
    out: FloatArray = -(p * np.log2(safe)).sum(axis=axes)
    return out


def _features(m: FloatArray, nv: FloatArray) -> dict[str, FloatArray]:
    del nv
    b, ng, _ = m.shape
    p = m / m.sum(axis=(1, 2))[:, None, None]
    lv = np.arange(1, ng + 1, dtype=np.float64)
    i = lv[None, :, None]
    j = lv[None, None, :]
    px = p.sum(axis=2)
    py = p.sum(axis=1)
    mu_i = (px * lv).sum(axis=1)
    mu_j = (py * lv).sum(axis=1)
    var_i = (px * (lv - mu_i[:, None]) ** 2).sum(axis=1)
    var_j = (py * (lv - mu_j[:, None]) ** 2).sum(axis=1)
    k_diff = np.abs(np.subtract.outer(lv, lv)).astype(np.int64)
    k_sum = np.add.outer(lv, lv).astype(np.int64)
    p_diff = np.stack([np.bincount(k_diff.ravel(), q.ravel(), ng) for q in p]).astype(np.float64)
    p_sum = np.stack([np.bincount(k_sum.ravel(), q.ravel(), 2 * ng + 1) for q in p]).astype(
        np.float64
    )
    kd = np.arange(ng, dtype=np.float64)
    ks = np.arange(2 * ng + 1, dtype=np.float64)
    diff_avg = (p_diff * kd).sum(axis=1)
    sum_avg = (p_sum * ks).sum(axis=1)
    hxy = _entropy(p, (1, 2))
    pxpy = px[:, :, None] * py[:, None, :]
    log_pxpy = np.log2(np.where(pxpy > 0, pxpy, 1.0))
    hxy1 = -(p * log_pxpy).sum(axis=(1, 2))
    hxy2 = -(pxpy * log_pxpy).sum(axis=(1, 2))
    hx = _entropy(px, (1,))
    hy = _entropy(py, (1,))
    d = i - j
    cl = i + j - mu_i[:, None, None] - mu_j[:, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = ((p * (i - mu_i[:, None, None]) * (j - mu_j[:, None, None])).sum(axis=(1, 2))) / (
            np.sqrt(var_i * var_j)
        )
        inv_var = (p_diff[:, 1:] / kd[1:] ** 2).sum(axis=1)
        info1 = (hxy - hxy1) / np.maximum(hx, hy)
    return {
        "joint_max": p.reshape(b, -1).max(axis=1),
        "joint_avg": mu_i,
        "joint_var": (p * (i - mu_i[:, None, None]) ** 2).sum(axis=(1, 2)),
        "joint_entr": hxy,
        "diff_avg": diff_avg,
        "diff_var": (p_diff * (kd - diff_avg[:, None]) ** 2).sum(axis=1),
        "diff_entr": _entropy(p_diff, (1,)),
        "sum_avg": sum_avg,
        "sum_var": (p_sum * (ks - sum_avg[:, None]) ** 2).sum(axis=1),
        "sum_entr": _entropy(p_sum, (1,)),
        "energy": (p**2).sum(axis=(1, 2)),
        "contrast": (p * d**2).sum(axis=(1, 2)),
        "dissimilarity": (p * np.abs(d)).sum(axis=(1, 2)),
        "inv_diff": (p / (1.0 + np.abs(d))).sum(axis=(1, 2)),
        "inv_diff_norm": (p / (1.0 + np.abs(d) / ng)).sum(axis=(1, 2)),
        "inv_diff_mom": (p / (1.0 + d**2)).sum(axis=(1, 2)),
        "inv_diff_mom_norm": (p / (1.0 + d**2 / ng**2)).sum(axis=(1, 2)),
        "inv_var": inv_var,
        "corr": corr,
        "auto_corr": (p * i * j).sum(axis=(1, 2)),
        "clust_tend": (p * cl**2).sum(axis=(1, 2)),
        "clust_shade": (p * cl**3).sum(axis=(1, 2)),
        "clust_prom": (p * cl**4).sum(axis=(1, 2)),
        "info_corr1": info1,
        "info_corr2": np.sqrt(np.maximum(1.0 - np.exp(-2.0 * (hxy2 - hxy)), 0.0)),
    }


def glcm_features(g: GreyImage, dims: tuple[TextureDim, ...]) -> dict[str, float]:
    """``cm_*`` features for the requested aggregation families."""
    two_d = TextureDim.D2 in dims or TextureDim.D25 in dims
    m2 = _matrices(g, "2D") if two_d else np.zeros((0, 4, g.ng, g.ng))
    nv2 = np.zeros(m2.shape[:2])
    three = None
    if TextureDim.D3 in dims:
        m3 = _matrices(g, "3D")[0]
        three = (m3, np.zeros(len(m3)))
    return aggregate_directional(m2, nv2, dims, _features, "cm", three)
