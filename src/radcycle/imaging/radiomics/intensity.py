"""IBSI 1 intensity families: local intensity (3.2), statistics (3.3),
intensity histogram (3.4) and intensity-volume histogram (3.5)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import signal

from radcycle.imaging.radiomics.configs import Discretisation
from radcycle.imaging.radiomics.preprocess import PEAK_RADIUS_MM, Prepared, discretise

__all__ = [
    "histogram_features",
    "ivh_features",
    "local_intensity_features",
    "statistics_features",
]

FloatArray = npt.NDArray[np.float64]


def local_intensity_features(p: Prepared) -> dict[str, float]:
    """Local and global intensity peak: mean in a 1 cm3 sphere around a voxel.

    Voxels of the image (not only the ROI) whose centres lie within the sphere
    count; voxels beyond the grid do not.
    """
    half = [int(np.floor(PEAK_RADIUS_MM / s)) for s in p.spacing]
    axes = [np.arange(-h, h + 1) * s for h, s in zip(half, p.spacing, strict=True)]
    gz, gy, gx = np.meshgrid(*axes, indexing="ij", sparse=True)
    kernel = ((gz**2 + gy**2 + gx**2) <= PEAK_RADIUS_MM**2 + 1e-9).astype(np.float64)
    sums = signal.fftconvolve(p.image, kernel, mode="same")
    counts = signal.fftconvolve(np.ones_like(p.image), kernel, mode="same")
    means = sums[p.roi] / np.round(counts[p.roi])
    vals = p.image[p.roi]
    at_max = vals == vals.max()
    return {
        "loc_peak_loc": float(means[at_max].max()),
        "loc_peak_glob": float(means.max()),
    }


def _stats(x: FloatArray, prefix: str) -> dict[str, float]:
    """The statistics shared by ``stat_*`` and ``ih_*`` (population moments)."""
    mean = float(x.mean())
    dev = x - mean
    var = float((dev**2).mean())
    sd = np.sqrt(var)
    p10, p25, p75, p90 = (float(v) for v in np.percentile(x, [10, 25, 75, 90]))
    median = float(np.median(x))
    robust = x[(x >= p10) & (x <= p90)]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "mean": mean,
            "var": var,
            "skew": float((dev**3).mean() / var**1.5) if var > 0 else 0.0,
            # IBSI kurtosis is excess kurtosis (minus 3).
            "kurt": float((dev**4).mean() / var**2 - 3.0) if var > 0 else 0.0,
            "median": median,
            "min": float(x.min()),
            "p10": p10,
            "p90": p90,
            "max": float(x.max()),
            "iqr": p75 - p25,
            "range": float(x.max() - x.min()),
            "mad": float(np.abs(dev).mean()),
            "rmad": float(np.abs(robust - robust.mean()).mean()),
            "medad": float(np.abs(x - median).mean()),
            "cov": float(sd / mean),
            # undefined (NaN) where p75 + p25 is 0, e.g. a uniform ROI of value 0
            "qcod": float(np.divide(p75 - p25, p75 + p25)),
        }
    return {f"{prefix}_{k}": v for k, v in out.items()}


def statistics_features(p: Prepared) -> dict[str, float]:
    """``stat_*``: intensity statistics over the ROI intensity mask."""
    x = p.image[p.roi]
    out = _stats(x, "stat")
    out["stat_energy"] = float((x**2).sum())
    out["stat_rms"] = float(np.sqrt((x**2).mean()))
    return out


def histogram_features(levels: npt.NDArray[np.int64]) -> dict[str, float]:
    """``ih_*``: statistics of the discretised grey levels plus histogram shape."""
    x = levels.astype(np.float64)
    out = _stats(x, "ih")
    lo = int(levels.min())
    counts = np.bincount(levels - lo).astype(np.float64)
    grey = np.arange(lo, lo + len(counts), dtype=np.float64)
    prob = counts / counts.sum()
    # Mode: the most frequent level; ties go to the level nearest the mean.
    tied = grey[counts == counts.max()]
    out["ih_mode"] = float(tied[np.argmin(np.abs(tied - out["ih_mean"]))])
    nzp = prob[prob > 0]
    out["ih_entropy"] = float(-(nzp * np.log2(nzp)).sum())
    out["ih_uniformity"] = float((prob**2).sum())
    grad = np.gradient(counts) if len(counts) > 1 else np.zeros(1)
    out["ih_max_grad"] = float(grad.max())
    out["ih_max_grad_g"] = float(grey[int(np.argmax(grad))])
    out["ih_min_grad"] = float(grad.min())
    out["ih_min_grad_g"] = float(grey[int(np.argmin(grad))])
    return out


def _ivh_fbn(p: Prepared, x: FloatArray, method: Discretisation) -> tuple[FloatArray, FloatArray]:
    levels, ng = discretise(x, method, p.range_min)
    return levels.astype(np.float64), np.arange(1, ng + 1, dtype=np.float64)


def _ivh_fbs(p: Prepared, x: FloatArray, method: Discretisation) -> tuple[FloatArray, FloatArray]:
    # Intensities are the bin centres, over the re-segmentation range.
    levels, _ = discretise(x, method, p.range_min)
    values = np.asarray(p.range_min + (levels - 0.5) * method.value, dtype=np.float64)
    n_bins = int(np.ceil((p.range_max - p.range_min) / method.value))
    centres = p.range_min + (np.arange(1, n_bins + 1) - 0.5) * method.value
    grid = np.asarray(centres, dtype=np.float64)
    return values, grid


def _ivh_none(p: Prepared, x: FloatArray, method: Discretisation) -> tuple[FloatArray, FloatArray]:
    # Integer intensities (CT HU) with unit step.
    del method
    grid: FloatArray = np.arange(np.floor(p.range_min), np.floor(p.range_max) + 1.0)
    return np.round(x), grid


_IVH_GRIDS = {"fbn": _ivh_fbn, "fbs": _ivh_fbs, "none": _ivh_none}


def ivh_features(p: Prepared, method: Discretisation) -> dict[str, float]:
    """``ivh_*``: intensity-volume histogram (IBSI 1 section 3.5)."""
    values, grid = _IVH_GRIDS[method.method](p, p.image[p.roi], method)
    g_min, g_max = float(grid.min()), float(grid.max())
    sorted_vals = np.sort(values)
    # Volume fraction with intensity >= each grid level.
    nu = 1.0 - np.searchsorted(sorted_vals, grid, side="left") / len(values)
    gamma = (grid - g_min) / (g_max - g_min) if g_max > g_min else np.zeros_like(grid)

    def v_at(frac: float) -> float:
        return float(nu[gamma >= frac].max()) if np.any(gamma >= frac) else 0.0

    def i_at(frac: float) -> float:
        ok = nu <= frac
        return float(grid[ok].min()) if ok.any() else g_max + 1.0

    v10, v90, i10, i90 = v_at(0.10), v_at(0.90), i_at(0.10), i_at(0.90)
    return {
        "ivh_v10": v10,
        "ivh_v90": v90,
        "ivh_i10": i10,
        "ivh_i90": i90,
        "ivh_diff_v10_v90": v10 - v90,
        "ivh_diff_i10_i90": i10 - i90,
    }
