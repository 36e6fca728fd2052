"""Grey level run length matrix features (IBSI 1 section 3.7), tags ``rlm_*``.

Runs are found without a voxel loop: a ROI voxel starts a run when its
predecessor along the direction has another level (or is outside), ends one
when its successor does; sorting starts and ends by (line, position) pairs them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from radcycle.imaging.radiomics.configs import TextureDim
from radcycle.imaging.radiomics.texture.common import (
    GreyImage,
    aggregate_directional,
    directions,
    zone_features,
)

__all__ = ["glrlm_features"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_NAMES = (
    "sre", "lre", "lgre", "hgre", "srlge", "srhge", "lrlge", "lrhge",
    "glnu", "glnu_norm", "rlnu", "rlnu_norm", "r_perc", "gl_var", "rl_var", "rl_entr",
)  # fmt: skip


def _runs(g: GreyImage, d: tuple[int, int, int]) -> tuple[IntArray, IntArray, IntArray]:
    """Level, length and slice of every run along direction ``d``."""
    dv = np.asarray(d)
    prev = g.coords - dv
    nxt = g.coords + dv
    same_prev = g.grey[prev[:, 0], prev[:, 1], prev[:, 2]] == g.levels
    same_next = g.grey[nxt[:, 0], nxt[:, 1], nxt[:, 2]] == g.levels
    axis = int(np.nonzero(dv)[0][0])
    t = g.coords[:, axis] * dv[axis]
    base = g.coords - t[:, None] * dv[None, :]
    shape = np.asarray(g.grey.shape)
    # Line key: the line's point where coordinate ``axis`` is 0, offset to >= 0.
    off = base + shape[None, :]
    span = 3 * shape
    line = (off[:, 0] * span[1] + off[:, 1]) * span[2] + off[:, 2]
    key = line * span.max() + t + shape.max()
    starts = np.nonzero(~same_prev)[0]
    ends = np.nonzero(~same_next)[0]
    starts = starts[np.argsort(key[starts], kind="stable")]
    ends = ends[np.argsort(key[ends], kind="stable")]
    length = t[ends] - t[starts] + 1
    return g.levels[starts], length, g.coords[starts, 0]


def _all_runs(g: GreyImage, dim: str) -> list[tuple[IntArray, IntArray, IntArray]]:
    """Runs of every direction: level, length and matrix index (slice x direction)."""
    dirs = directions(dim)
    runs = []
    for n, d in enumerate(dirs):
        level, length, zslice = _runs(g, d)
        group = zslice if dim == "2D" else np.zeros_like(zslice)
        runs.append((level, length, group * len(dirs) + n))
    return runs


def _dense(
    runs: list[tuple[IntArray, IntArray, IntArray]], n_groups: int, ng: int, jvals: IntArray
) -> FloatArray:
    out = np.zeros(n_groups * ng * len(jvals), dtype=np.float64)
    for level, length, group in runs:
        col = np.searchsorted(jvals, length)
        out += np.bincount((group * ng + level - 1) * len(jvals) + col, minlength=out.size)
    return out.reshape(n_groups, ng, len(jvals))


def _voxels_per_slice(g: GreyImage) -> FloatArray:
    return np.bincount(g.coords[:, 0], minlength=g.n_slices).astype(np.float64)


def glrlm_features(g: GreyImage, dims: tuple[TextureDim, ...]) -> dict[str, float]:
    """``rlm_*`` features for the requested aggregation families."""
    sets: dict[str, list[tuple[IntArray, IntArray, IntArray]]] = {}
    if TextureDim.D2 in dims or TextureDim.D25 in dims:
        sets["2D"] = _all_runs(g, "2D")
    if TextureDim.D3 in dims:
        sets["3D"] = _all_runs(g, "3D")
    lengths = [r[1] for runs in sets.values() for r in runs]
    jvals = np.unique(np.concatenate(lengths))
    compute = zone_features(_NAMES, jvals.astype(np.float64))
    m2 = np.zeros((0, 4, g.ng, len(jvals)))
    nv2 = np.zeros((0, 4))
    if "2D" in sets:
        m2 = _dense(sets["2D"], g.n_slices * 4, g.ng, jvals).reshape(g.n_slices, 4, g.ng, -1)
        nv2 = np.repeat(_voxels_per_slice(g)[:, None], 4, axis=1)
    three = None
    if "3D" in sets:
        m3 = _dense(sets["3D"], 13, g.ng, jvals)
        three = (m3, np.full(13, float(len(g.levels))))
    return aggregate_directional(m2, nv2, dims, compute, "rlm", three)
