"""Shared machinery of the texture families: directions, neighbour shifts,
matrix aggregation (IBSI 1 section 3.6) and the run/zone feature set."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from radcycle.imaging.radiomics.configs import TextureDim

__all__ = [
    "BatchFeatures",
    "GreyImage",
    "aggregate_directional",
    "aggregate_plain",
    "directions",
    "neighbour_offsets",
    "shifted",
    "zone_features",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BatchFeatures = Callable[[FloatArray, FloatArray], dict[str, FloatArray]]


class GreyImage:
    """Discretised grey levels (0 outside the ROI), padded by one voxel of zeros.

    Attributes:
        grey: padded levels ``[k, j, i]``.
        ng: number of grey levels (matrix size).
        morph: padded ROI morphological mask (before re-segmentation); the
            distance-zone matrix measures distances to its edge.
    """

    def __init__(self, grey: IntArray, ng: int, morph: npt.NDArray[np.bool_] | None = None) -> None:
        self.grey = np.pad(grey, 1)
        self.ng = ng
        self.roi = self.grey > 0
        self.morph = self.roi if morph is None else np.pad(morph, 1) | self.roi
        self.coords = np.argwhere(self.roi)
        self.levels = self.grey[self.roi]
        self.n_slices = self.grey.shape[0]
        # Intermediate results shared between families (zones for GLSZM and GLDZM).
        self.cache: dict[tuple[str, str], object] = {}


def directions(dim: str) -> list[tuple[int, int, int]]:
    """Unique neighbour directions: 4 in-plane (``"2D"``) or 13 (``"3D"``)."""
    out: list[tuple[int, int, int]] = []
    for dz, dy, dx in itertools.product((-1, 0, 1), repeat=3):
        first = next((c for c in (dz, dy, dx) if c != 0), 0)
        if first > 0 and (dim == "3D" or dz == 0):
            out.append((dz, dy, dx))
    return out


def neighbour_offsets(dim: str) -> list[tuple[int, int, int]]:
    """All 8 (2D) or 26 (3D) neighbours at Chebyshev distance 1."""
    half = directions(dim)
    return half + [(-a, -b, -c) for a, b, c in half]


def shifted(arr: npt.NDArray[np.generic], d: tuple[int, int, int]) -> npt.NDArray[np.generic]:
    """``out[p] = arr[p + d]`` with zeros where ``p + d`` leaves the array."""
    out = np.zeros_like(arr)
    src = tuple(slice(max(c, 0), n + min(c, 0)) for c, n in zip(d, arr.shape, strict=True))
    dst = tuple(slice(max(-c, 0), n + min(-c, 0)) for c, n in zip(d, arr.shape, strict=True))
    out[dst] = arr[src]
    return out


def _batch_mean(compute: BatchFeatures, mats: FloatArray, nv: FloatArray) -> dict[str, float]:
    """Features of each non-empty matrix ``(B, Ng, J)``, averaged (NaN if none)."""
    valid = mats.reshape(len(mats), -1).sum(axis=1) > 0
    if not valid.any():
        # Still call compute (on one empty matrix) to learn the feature names.
        return {k: float("nan") for k in compute(mats[:1], nv[:1])}
    return {k: float(np.mean(v)) for k, v in compute(mats[valid], nv[valid]).items()}


def aggregate_directional(
    mats: FloatArray,
    nv: FloatArray,
    dims: tuple[TextureDim, ...],
    compute: BatchFeatures,
    prefix: str,
    three_d: tuple[FloatArray, FloatArray] | None,
) -> dict[str, float]:
    """Aggregate per (slice, direction) matrices the six IBSI ways.

    Args:
        mats: 2D matrices ``(slices, directions, Ng, J)`` (may be empty if unused).
        nv: voxel counts per matrix ``(slices, directions)``.
        dims: which families to produce.
        compute: batch feature function ``(matrices (B, Ng, J), nv (B,)) -> {name: (B,)}``.
        prefix: tag prefix (``cm``, ``rlm``).
        three_d: 3D matrices ``(directions, Ng, J)`` and their voxel counts.
    """
    out: dict[str, float] = {}

    def run(m: FloatArray, n: FloatArray, suffix: str) -> None:
        flat = m.reshape(-1, *m.shape[-2:])
        for k, v in _batch_mean(compute, flat, n.reshape(-1)).items():
            out[f"{prefix}_{k}_{suffix}"] = v

    if TextureDim.D2 in dims:
        run(mats, nv, "2D_avg")
        run(mats.sum(axis=1), nv.sum(axis=1), "2D_comb")
    if TextureDim.D25 in dims:
        run(mats.sum(axis=0), nv.sum(axis=0), "2_5D_avg")
        run(mats.sum(axis=(0, 1))[None], nv.sum(axis=(0, 1))[None], "2_5D_comb")
    if TextureDim.D3 in dims and three_d is not None:
        m3, n3 = three_d
        run(m3, n3, "3D_avg")
        run(m3.sum(axis=0)[None], n3.sum(axis=0)[None], "3D_comb")
    return out


def aggregate_plain(
    per_slice: tuple[FloatArray, FloatArray] | None,
    volume: tuple[FloatArray, FloatArray] | None,
    dims: tuple[TextureDim, ...],
    compute: BatchFeatures,
    prefix: str,
) -> dict[str, float]:
    """Aggregate non-directional matrices: 2D (slice mean), 2.5D (merged), 3D."""
    out: dict[str, float] = {}

    def run(m: FloatArray, n: FloatArray, suffix: str) -> None:
        for k, v in _batch_mean(compute, m, n).items():
            out[f"{prefix}_{k}_{suffix}"] = v

    if per_slice is not None:
        m2, n2 = per_slice
        if TextureDim.D2 in dims:
            run(m2, n2, "2D")
        if TextureDim.D25 in dims:
            run(m2.sum(axis=0)[None], n2.sum(axis=0)[None], "2_5D")
    if TextureDim.D3 in dims and volume is not None:
        run(volume[0], volume[1], "3D")
    return out


def zone_features(names: tuple[str, ...], jvals: FloatArray, energy: bool = False) -> BatchFeatures:
    """Feature set shared by run-length, size-zone, distance-zone and dependence
    matrices (IBSI 1 sections 3.7-3.10, 3.12), named per family.

    ``names`` lists the 16 family names in the order: short/low-dependence
    emphasis, long/high, low grey, high grey, short-low, short-high, long-low,
    long-high, grey-level non-uniformity (and normalised), size/run/distance
    non-uniformity (and normalised), percentage, grey-level variance, size
    variance, size entropy.
    """

    def compute(m: FloatArray, nv: FloatArray) -> dict[str, FloatArray]:
        ng = m.shape[1]
        i = np.arange(1, ng + 1, dtype=np.float64)[None, :, None]
        j = jvals[None, None, :]
        ns = m.sum(axis=(1, 2))
        ri = m.sum(axis=2)
        rj = m.sum(axis=1)
        p = m / ns[:, None, None]
        mu_i = (p * i).sum(axis=(1, 2))
        mu_j = (p * j).sum(axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = np.where(p > 0, np.log2(np.where(p > 0, p, 1.0)), 0.0)
        values = [
            (m / j**2).sum(axis=(1, 2)) / ns,
            (m * j**2).sum(axis=(1, 2)) / ns,
            (m / i**2).sum(axis=(1, 2)) / ns,
            (m * i**2).sum(axis=(1, 2)) / ns,
            (m / (i**2 * j**2)).sum(axis=(1, 2)) / ns,
            (m * i**2 / j**2).sum(axis=(1, 2)) / ns,
            (m * j**2 / i**2).sum(axis=(1, 2)) / ns,
            (m * i**2 * j**2).sum(axis=(1, 2)) / ns,
            (ri**2).sum(axis=1) / ns,
            (ri**2).sum(axis=1) / ns**2,
            (rj**2).sum(axis=1) / ns,
            (rj**2).sum(axis=1) / ns**2,
            ns / nv,
            (p * (i - mu_i[:, None, None]) ** 2).sum(axis=(1, 2)),
            (p * (j - mu_j[:, None, None]) ** 2).sum(axis=(1, 2)),
            -(p * logp).sum(axis=(1, 2)),
        ]
        out = dict(zip(names, values, strict=True))
        if energy:
            out["dc_energy"] = (p**2).sum(axis=(1, 2))
        return out

    return compute
