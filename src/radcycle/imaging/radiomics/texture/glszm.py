"""Grey level size zone matrix features (IBSI 1 section 3.8), tags ``szm_*``.

Zones are connected voxels of one grey level: 8-connected within a slice (2D,
2.5D) or 26-connected (3D), labelled per grey level with ``scipy.ndimage``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from radcycle.imaging.radiomics.configs import TextureDim
from radcycle.imaging.radiomics.texture.common import GreyImage, aggregate_plain, zone_features

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


def _structure(dim: str) -> npt.NDArray[np.bool_]:
    s = np.ones((3, 3, 3), dtype=bool)
    if dim == "2D":
        s[0] = False
        s[2] = False
    return s


def label_zones(g: GreyImage, dim: str) -> Zones:
    """Label the zones of every grey level (one label space for all levels)."""
    labels = np.zeros(g.grey.shape, dtype=np.int64)
    levels: list[IntArray] = []
    total = 0
    structure = _structure(dim)
    for level in np.unique(g.levels):
        lab, n = ndimage.label(g.grey == level, structure=structure)
        inside = lab > 0
        labels[inside] = lab[inside] + total
        levels.append(np.full(n, level, dtype=np.int64))
        total += n
    flat = labels[g.roi]
    size = np.bincount(flat, minlength=total + 1)[1:]
    zslice = np.zeros(total + 1, dtype=np.int64)
    zslice[flat] = g.coords[:, 0]
    return Zones(labels, np.concatenate(levels), size, zslice[1:])


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
