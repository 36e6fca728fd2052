"""Grey level distance zone matrix features (IBSI 1 section 3.9), tags ``dzm_*``.

A zone's distance is the smallest distance to the ROI edge of its voxels; the
distance map counts steps between 4-connected (2D) or 6-connected (3D)
neighbours, border voxels being at distance 1 (taxicab chamfer transform).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from radcycle.imaging.radiomics.configs import TextureDim
from radcycle.imaging.radiomics.texture.common import GreyImage, aggregate_plain, zone_features
from radcycle.imaging.radiomics.texture.glszm import label_zones, zone_matrix

__all__ = ["gldzm_features"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_NAMES = (
    "sde", "lde", "lgze", "hgze", "sdlge", "sdhge", "ldlge", "ldhge",
    "glnu", "glnu_norm", "zdnu", "zdnu_norm", "z_perc", "gl_var", "zd_var", "zd_entr",
)  # fmt: skip


def _edge_distance(roi: npt.NDArray[np.bool_], dim: str) -> IntArray:
    metric = ndimage.generate_binary_structure(3, 1)
    if dim == "2D":
        metric[0] = False
        metric[2] = False
    dist: IntArray = ndimage.distance_transform_cdt(roi, metric=metric).astype(np.int64)
    return dist


def _zone_distances(g: GreyImage, dim: str) -> tuple[IntArray, IntArray, IntArray]:
    z = label_zones(g, dim)
    # IBSI 1 sec. 3.9: distances to the edge of the morphological mask.
    dist = _edge_distance(g.morph, dim)
    lab = z.labels[g.roi]
    best = np.full(len(z.size) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, lab, dist[g.roi])
    return z.level, best[1:], z.zslice


def gldzm_features(g: GreyImage, dims: tuple[TextureDim, ...]) -> dict[str, float]:
    """``dzm_*`` features for the requested aggregation families."""
    out: dict[str, float] = {}
    if TextureDim.D2 in dims or TextureDim.D25 in dims:
        level, dist, zslice = _zone_distances(g, "2D")
        m, jv = zone_matrix(level, dist, zslice, g.n_slices, g.ng)
        nv = np.bincount(g.coords[:, 0], minlength=g.n_slices).astype(np.float64)
        out.update(aggregate_plain((m, nv), None, dims, zone_features(_NAMES, jv), "dzm"))
    if TextureDim.D3 in dims:
        level, dist, _ = _zone_distances(g, "3D")
        m, jv = zone_matrix(level, dist, np.zeros_like(level), 1, g.ng)
        nv = np.array([float(len(g.levels))])
        out.update(aggregate_plain(None, (m, nv), dims, zone_features(_NAMES, jv), "dzm"))
    return out
