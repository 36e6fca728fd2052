"""Grey level size zone matrix features (IBSI 1 section 3.8), tags ``szm_*``.

Zones are connected voxels of one grey level: 8-connected within a slice (2D,
2.5D) or 26-connected (3D), found for all levels in one connected-components
pass over a sparse graph of equal-level neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse import csgraph

from radcycle.imaging.radiomics.configs import TextureDim
from radcycle.imaging.radiomics.texture.common import (
    GreyImage,
    aggregate_plain,
    directions,
    zone_features,
)

__all__ = ["Zones", "glszm_features", "label_zones", "zone_matrix"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_NAMES = (
    "sze", "lze", "lgze", "hgze", "szlge", "szhge", "lzlge", "lzhge",
    "glnu", "glnu_norm", "zsnu", "zsnu_norm", "z_perc", "gl_var", "zs_var", "zs_entr",
)  # fmt: skip


@dataclass(frozen=True)
class Zones:
    """All zones of an image: a label map and per zone its level, size and slice."""

    labels: IntArray
    level: IntArray
    size: IntArray
    zslice: IntArray


def label_zones(g: GreyImage, dim: str) -> Zones:
    """Label the zones of every grey level at once (results cached on ``g``).

    Zones are the connected components of the graph joining ROI neighbours
    (8-connected in-plane for 2D, 26-connected for 3D) that share a level.
    """
    cached = g.cache.get(("zones", dim))
    if isinstance(cached, Zones):
        return cached
    n = len(g.levels)
    index = np.full(g.grey.shape, -1, dtype=np.int64)
    index[g.roi] = np.arange(n)
    rows, cols = [], []
    for d in directions(dim):
        nb = g.coords + np.asarray(d)
        other = index[nb[:, 0], nb[:, 1], nb[:, 2]]
        ok = other >= 0
        ok[ok] = g.levels[ok] == g.levels[other[ok]]
        rows.append(np.nonzero(ok)[0])
        cols.append(other[ok])
    r = np.concatenate(rows)
    graph = sparse.coo_matrix((np.ones(len(r), dtype=np.int8), (r, np.concatenate(cols))), (n, n))
    total, comp = csgraph.connected_components(graph, directed=False)
    labels = np.zeros(g.grey.shape, dtype=np.int64)
    labels[g.roi] = comp + 1
    size = np.bincount(comp, minlength=total)
    level = np.zeros(total, dtype=np.int64)
    level[comp] = g.levels
    zslice = np.zeros(total, dtype=np.int64)
    zslice[comp] = g.coords[:, 0]
    zones = Zones(labels, level, size, zslice)
    g.cache[("zones", dim)] = zones
    return zones


def zone_matrix(
    level: IntArray, value: IntArray, group: IntArray, n_groups: int, ng: int
) -> tuple[FloatArray, FloatArray]:
    """Dense counts ``(groups, Ng, J)`` over the distinct ``value`` columns J."""
    jvals, col = np.unique(value, return_inverse=True)
    idx = (group * ng + level - 1) * len(jvals) + col
    m = np.bincount(idx, minlength=n_groups * ng * len(jvals)).astype(np.float64)
    return m.reshape(n_groups, ng, len(jvals)), jvals.astype(np.float64)


def _voxels(g: GreyImage) -> FloatArray:
    return np.bincount(g.coords[:, 0], minlength=g.n_slices).astype(np.float64)


def glszm_features(g: GreyImage, dims: tuple[TextureDim, ...]) -> dict[str, float]:
    """``szm_*`` features for the requested aggregation families."""
    out: dict[str, float] = {}
    if TextureDim.D2 in dims or TextureDim.D25 in dims:
        z = label_zones(g, "2D")
        m, jv = zone_matrix(z.level, z.size, z.zslice, g.n_slices, g.ng)
        out.update(aggregate_plain((m, _voxels(g)), None, dims, zone_features(_NAMES, jv), "szm"))
    if TextureDim.D3 in dims:
        z = label_zones(g, "3D")
        m, jv = zone_matrix(z.level, z.size, np.zeros_like(z.size), 1, g.ng)
        nv = np.array([float(len(g.levels))])
        out.update(aggregate_plain(None, (m, nv), dims, zone_features(_NAMES, jv), "szm"))
    return out
