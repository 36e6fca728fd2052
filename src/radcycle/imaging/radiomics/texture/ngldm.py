"""Neighbouring grey level dependence matrix features (IBSI 1 section 3.12),
tags ``ngl_*``.

Coarseness parameter 0 and distance 1: a voxel's dependence is 1 plus the
number of its ROI neighbours (8 in-plane or 26 in 3D) with the same level.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from radcycle.imaging.radiomics.configs import TextureDim
from radcycle.imaging.radiomics.texture.common import (
    GreyImage,
    aggregate_plain,
    neighbour_offsets,
    zone_features,
)
from radcycle.imaging.radiomics.texture.glszm import zone_matrix

__all__ = ["ngldm_features"]

FloatArray = npt.NDArray[np.float64]

_NAMES = (
    "lde", "hde", "lgce", "hgce", "ldlge", "ldhge", "hdlge", "hdhge",
    "glnu", "glnu_norm", "dcnu", "dcnu_norm", "dc_perc", "gl_var", "dc_var", "dc_entr",
)  # fmt: skip


def _dependence(g: GreyImage, dim: str) -> npt.NDArray[np.int64]:
    dep = np.ones(len(g.levels), dtype=np.int64)
    for d in neighbour_offsets(dim):
        nb = g.coords + np.asarray(d)
        dep += g.grey[nb[:, 0], nb[:, 1], nb[:, 2]] == g.levels
    return dep


def ngldm_features(g: GreyImage, dims: tuple[TextureDim, ...]) -> dict[str, float]:
    """``ngl_*`` features for the requested aggregation families."""
    out: dict[str, float] = {}
    if TextureDim.D2 in dims or TextureDim.D25 in dims:
        dep = _dependence(g, "2D")
        m, jv = zone_matrix(g.levels, dep, g.coords[:, 0], g.n_slices, g.ng)
        nv = np.bincount(g.coords[:, 0], minlength=g.n_slices).astype(np.float64)
        compute = zone_features(_NAMES, jv, energy=True)
        out.update(aggregate_plain((m, nv), None, dims, compute, "ngl"))
    if TextureDim.D3 in dims:
        dep = _dependence(g, "3D")
        zero = np.zeros_like(dep)
        m, jv = zone_matrix(g.levels, dep, zero, 1, g.ng)
        nv = np.array([float(len(g.levels))])
        out.update(aggregate_plain(None, (m, nv), dims, zone_features(_NAMES, jv, True), "ngl"))
    return out
