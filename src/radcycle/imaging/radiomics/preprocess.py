"""IBSI 1 image processing: interpolation, re-segmentation, discretisation.

Arrays are indexed ``[k, j, i]`` and spacings given in the same order
(``(dk, dj, di)``) throughout this sub-package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from radcycle.errors import AnalysisError, InputError
from radcycle.imaging.radiomics.configs import Discretisation, RadiomicsConfig

__all__ = ["PEAK_RADIUS_MM", "Prepared", "discretise", "prepare"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

# IBSI 1 section 3.2: the local intensity peak is the mean in a 1 cm3 sphere.
PEAK_RADIUS_MM = float((3.0 / (4.0 * np.pi) * 1000.0) ** (1.0 / 3.0))


@dataclass(frozen=True)
class Prepared:
    """An image and its ROI after interpolation and re-segmentation.

    Attributes:
        image: intensities on the (cropped) processed grid.
        morph: ROI morphological mask (interpolated, thresholded at 0.5).
        roi: ROI intensity mask (morphological mask after re-segmentation).
        spacing: voxel size ``(dk, dj, di)`` in mm.
        range_min: lower bound used by fixed-bin-size discretisation.
        range_max: upper bound of the re-segmentation range (or ROI maximum).
    """

    image: FloatArray
    morph: BoolArray
    roi: BoolArray
    spacing: FloatArray
    range_min: float
    range_max: float


def _axis_grid(n: int, s: float, t: float | None) -> tuple[FloatArray, float]:
    """New voxel centres along one axis, in old index units (IBSI 1 sec. 2.4).

    Grid-centre alignment: the new grid has ``ceil(n s / t)`` voxels and shares its
    centre with the original grid.
    """
    if t is None or t == s:
        return np.arange(n, dtype=np.float64), s
    n_new = int(np.ceil(n * s / t - 1e-9))
    offset = (s * (n - 1) - t * (n_new - 1)) / 2.0
    coords: FloatArray = (offset + t * np.arange(n_new, dtype=np.float64)) / s
    return coords, t


def _crop_range(coords: FloatArray, lo: int, hi: int, margin: float) -> tuple[int, int]:
    keep = np.nonzero((coords >= lo - margin) & (coords <= hi + margin))[0]
    return int(keep[0]), int(keep[-1]) + 1


def _bounding_box(mask: BoolArray) -> tuple[list[int], list[int]]:
    """First and last index of the ROI along each axis (projections: no index list)."""
    lo, hi = [], []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(mask.any(axis=others))
        lo.append(int(hit[0]))
        hi.append(int(hit[-1]))
    return lo, hi


def _interpolate(
    image: npt.NDArray[np.generic], mask: BoolArray, spacing: FloatArray, config: RadiomicsConfig
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Crop around the ROI (plus a margin for the peak sphere) and resample.

    Only the cropped block is converted to float, so a large scan costs little.
    """
    lo, hi = _bounding_box(mask)
    target = (None, None, None) if config.spacing is None else config.spacing[::-1]
    axes = [_axis_grid(image.shape[a], float(spacing[a]), target[a]) for a in range(3)]
    new_spacing = np.array([g[1] for g in axes])
    windows = []
    for a in range(3):
        margin = (PEAK_RADIUS_MM + 2.0 * max(new_spacing[a], spacing[a])) / spacing[a]
        windows.append(_crop_range(axes[a][0], lo[a], hi[a], margin))
    coords = [axes[a][0][w0:w1] for a, (w0, w1) in enumerate(windows)]
    if config.spacing is None:
        box = tuple(slice(int(c[0]), int(c[-1]) + 1) for c in coords)
        return image[box].astype(np.float64), mask[box].astype(np.float64), new_spacing
    # Interpolate from a sub-block of the source only (plus spline support).
    pad = 4
    src_lo = [max(int(np.floor(c[0])) - pad, 0) for c in coords]
    src_hi = [min(int(np.ceil(c[-1])) + pad + 1, image.shape[a]) for a, c in enumerate(coords)]
    box = tuple(slice(a, b) for a, b in zip(src_lo, src_hi, strict=True))
    grid = np.meshgrid(*[c - o for c, o in zip(coords, src_lo, strict=True)], indexing="ij")
    out_img = ndimage.map_coordinates(
        image[box].astype(np.float64), grid, order=config.image_order, mode="nearest"
    )
    out_mask = ndimage.map_coordinates(mask[box].astype(np.float64), grid, order=1, mode="nearest")
    return out_img, out_mask, new_spacing


def prepare(
    image: npt.NDArray[np.generic],
    mask: npt.NDArray[np.generic],
    spacing: npt.ArrayLike,
    config: RadiomicsConfig,
) -> Prepared:
    """Interpolate, threshold and re-segment an image and its ROI mask.

    Args:
        image: intensities ``[k, j, i]``.
        mask: ROI mask on the same grid (non-zero inside).
        spacing: voxel size ``(dk, dj, di)`` in mm.
        config: the processing configuration.

    Raises:
        InputError: shapes differ or the mask is empty.
        AnalysisError: re-segmentation leaves no voxel.
    """
    if image.shape != mask.shape:
        raise InputError(
            "mask grid differs from image grid", value={"image": image.shape, "mask": mask.shape}
        )
    binary = np.asarray(mask) > 0
    if not binary.any():
        raise InputError("the ROI mask is empty (no voxel inside)")
    sp = np.asarray(spacing, dtype=np.float64)
    img, msk, new_sp = _interpolate(np.asarray(image), binary, sp, config)
    if config.round_intensities:
        img = np.round(img)
    # IBSI 1 sec. 2.4: interpolated ROI partial-volume threshold 0.5 (inclusive; the
    # tolerance keeps exact halves that interpolation round-off puts at 0.4999...).
    morph = msk >= 0.5 - 1e-6
    if not morph.any():
        raise AnalysisError("the ROI vanishes after interpolation", value=config.name)
    roi = morph.copy()
    lo, hi = -np.inf, np.inf
    if config.reseg_range is not None:
        lo, hi = config.reseg_range
        roi &= (img >= lo) & (img <= hi)
    if config.outlier_sigma is not None and roi.any():
        vals = img[roi]
        mu, sd = float(vals.mean()), float(vals.std())
        roi &= np.abs(img - mu) <= config.outlier_sigma * sd
    if not roi.any():
        raise AnalysisError("re-segmentation leaves no voxel in the ROI", value=config.name)
    vals = img[roi]
    range_min = float(lo) if np.isfinite(lo) else float(vals.min())
    range_max = float(hi) if np.isfinite(hi) else float(vals.max())
    return Prepared(img, morph, roi, new_sp, range_min, range_max)


def discretise(
    values: FloatArray, method: Discretisation, range_min: float
) -> tuple[IntArray, int]:
    """Discretise intensities to grey levels 1..Ng (IBSI 1 section 2.7).

    Args:
        values: intensities inside the ROI.
        method: FBN (``floor(Ng (x - min) / (max - min)) + 1``, maximum -> Ng),
            FBS (``floor((x - range_min) / w) + 1``) or none (values kept).
        range_min: lower bound of the re-segmentation range (FBS).

    Returns:
        The levels and the number of grey levels Ng.

    Raises:
        AnalysisError: ``none`` asked for intensities below 1.
    """
    if method.method == "none":
        levels = np.round(values).astype(np.int64)
        if levels.min() < 1:
            raise AnalysisError(
                "discretisation 'none' needs grey levels >= 1 (use FBN or FBS)",
                value=int(levels.min()),
            )
        return levels, int(levels.max())
    if method.method == "fbs":
        levels = np.floor((values - range_min) / method.value).astype(np.int64) + 1
        return levels, int(levels.max())
    ng = int(method.value)
    vmin, vmax = float(values.min()), float(values.max())
    if vmax == vmin:
        return np.ones(values.shape, dtype=np.int64), ng
    levels = np.floor(ng * (values - vmin) / (vmax - vmin)).astype(np.int64) + 1
    return np.minimum(levels, ng), ng
