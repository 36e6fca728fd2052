"""Interlobar fissures near a lung lesion: is it perifissural, which lobe is it in.

A fissure is two layers of visceral pleura: on an axial CT slice it is a thin
line, a little denser than the lung, running on for centimetres. A lesion is
perifissural (Lung-RADS: "attached to a fissure") where such a line comes within
:data:`_REACH_MM` of its outline.

Lines are found slice by slice, where slices are thick (the oblique fissure
crosses them at an angle and still draws a line in each; the Hessian across a
2.5 mm slice pitch is unreliable). On each slice the in-plane Hessian at scale
:data:`_SIGMA_MM` picks thin bright ridges: a strongly negative curvature across
the ridge, a weak one along it, a small gradient (the middle of a ridge, not the
edge of a vessel or of the lesion), in aerated lung. Ridges shorter than
:data:`_MIN_LENGTH_MM` (vessel pieces, noise) are dropped. The limits were chosen
on synthetic patients 0-19 and checked on 20-39 (docs/lesions.md gives the figures).

The lobe: the oblique fissure near a nodule is a plane fitted (RANSAC) to its
lines, rising towards the back; below it is the lower lobe. On the right, above
it, the horizontal fissure is nearly level, so on axial slices it is not a line
but a slab a little denser than the slices above and below it
(:func:`level_sheets`); the middle lobe lies below it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.domain.lesion import LesionLocation
from radcycle.imaging.lungs import LungModel
from radcycle.imaging.masks import BoolArray, array_spacing, crop_slices, distance_mm

__all__ = ["fissure_lines", "fissure_lobe", "is_perifissural", "level_sheets"]

FloatArray = npt.NDArray[np.float64]

# A lesion is perifissural where a fissure line lies within this distance (mm)
# of its outline (the 1 mm fissure touches it, with a voxel of partial volume).
_REACH_MM = 3.0
# In-plane Hessian scale (mm), at least _MIN_SIGMA_PX pixels.
_SIGMA_MM = 0.6
_MIN_SIGMA_PX = 0.8
# Scale-normalised curvature across a ridge (HU), at least.
_MIN_CURVATURE_HU = 20.0
# The curvature along the ridge, and the gradient, at most these fractions of it.
_MAX_ALONG = 0.5
_MAX_GRADIENT = 1.5
# A fissure's ridge lies in aerated lung (smoothed HU below this).
_MAX_RIDGE_HU = -550.0
# Ridges at least this long (mm of ridge pixels) on a slice are fissure lines.
_MIN_LENGTH_MM = 16.0
# Context around a lesion (mm) in which its fissure lines are traced.
_CONTEXT_MM = 12.0


def fissure_lines(values: FloatArray, spacing: tuple[float, float, float]) -> BoolArray:
    """Fissure lines on each axial slice of ``values`` (``[k, j, i]``, HU).

    Args:
        values: a CT region, indexed ``[k, j, i]``.
        spacing: voxel size (mm) along ``(k, j, i)``.
    """
    pixel = spacing[1:]
    sigma_mm = max(_SIGMA_MM, _MIN_SIGMA_PX * max(pixel))
    sigma_px = [sigma_mm / p for p in pixel]
    # second-derivative kernels this small do not sum to zero: work on the
    # difference from the region's median so the level does not leak in
    centred = np.asarray(values, dtype=np.float64) - float(np.median(values))
    out = np.zeros(values.shape, dtype=bool)
    for k in range(values.shape[0]):
        image = centred[k]

        def derivative(order: tuple[int, int], image: FloatArray = image) -> FloatArray:
            scale = pixel[0] ** order[0] * pixel[1] ** order[1]
            return np.asarray(ndi.gaussian_filter(image, sigma_px, order=order) / scale)

        hyy, hxx, hxy = derivative((2, 0)), derivative((0, 2)), derivative((1, 1))
        gradient = np.hypot(derivative((1, 0)), derivative((0, 1))) * sigma_mm
        half_trace = 0.5 * (hxx + hyy)
        root = np.sqrt(np.maximum(half_trace**2 - (hxx * hyy - hxy**2), 0.0))
        low, high = half_trace - root, half_trace + root
        across = np.where(np.abs(low) >= np.abs(high), low, high) * sigma_mm**2
        along = np.where(np.abs(low) >= np.abs(high), high, low) * sigma_mm**2
        level = ndi.gaussian_filter(values[k], sigma_px)
        ridge = (
            (across < -_MIN_CURVATURE_HU)
            & (np.abs(along) < _MAX_ALONG * np.abs(across))
            & (gradient < _MAX_GRADIENT * np.abs(across))
            & (level < _MAX_RIDGE_HU)
        )
        labels, n = ndi.label(ridge, structure=np.ones((3, 3)))
        if n == 0:
            continue
        lengths = np.asarray(ndi.sum(ridge, labels, np.arange(1, n + 1))) * float(min(pixel))
        out[k] = np.isin(labels, np.flatnonzero(lengths >= _MIN_LENGTH_MM) + 1)
    return out


def is_perifissural(volume: Volume, box: tuple[slice, slice, slice], mask: BoolArray) -> bool:
    """Whether a fissure line runs within :data:`_REACH_MM` of a lesion.

    Args:
        volume: the CT.
        box: array slices ``[k, j, i]`` of the region ``mask`` covers.
        mask: the lesion on that region.
    """
    where = np.argwhere(mask)
    if where.size == 0:
        return False
    spacing = array_spacing(volume)
    offset = np.array([b.start for b in box])
    low, high = where.min(axis=0) + offset, where.max(axis=0) + offset
    mid = (low + high) // 2
    centre = (int(mid[0]), int(mid[1]), int(mid[2]))
    half = 0.5 * float(np.max((high - low + 1) * np.asarray(spacing))) + _CONTEXT_MM
    context = crop_slices(centre, half, spacing, volume.array.shape)
    lesion = np.zeros(tuple(s.stop - s.start for s in context), dtype=bool)
    start = [b.start - c.start for b, c in zip(box, context, strict=True)]
    inner = tuple(
        slice(max(s, 0), min(s + n, m))
        for s, n, m in zip(start, mask.shape, lesion.shape, strict=True)
    )
    source = tuple(slice(i.start - s, i.stop - s) for i, s in zip(inner, start, strict=True))
    lesion[inner] = mask[source]
    distance = distance_mm(~lesion, spacing)
    near = (distance > 0.5) & (distance <= _REACH_MM)
    slices = np.flatnonzero(near.any(axis=(1, 2)))
    if slices.size == 0:
        return False
    values = np.asarray(volume.array[context], dtype=np.float64)
    lines = fissure_lines(values[slices], spacing)
    return bool(np.any(lines & near[slices]))


# The oblique fissure: a plane through at least _MIN_FISSURE_MM of line pixels
# (within _PLANE_TOLERANCE_MM of it, over _MIN_PLANE_SLICES slices), rising to
# the back by dz/dy in _SLOPE, fitted within _LOBE_CONTEXT_MM of the nodule.
_LOBE_CONTEXT_MM = 45.0
_MIN_FISSURE_MM = 45.0
_PLANE_TOLERANCE_MM = 1.5
_MIN_PLANE_SLICES = 3
_SLOPE = (0.3, 3.0)
_RANSAC_TRIALS = 300
# The horizontal fissure: in-plane smoothing (mm), the excess (HU) of a slice
# over the mean of its neighbours, in-plane curvature at most _FLATNESS of it;
# a level holds at least _MIN_LEVEL_MM2 of it on two adjacent slices, and at
# least _MIN_LEVEL_SHARE of what lies above the oblique fissure.
_LEVEL_SMOOTH_MM = 2.0
_MIN_LEVEL_EXCESS_HU = 25.0
_FLATNESS = 0.5
_MIN_LEVEL_MM2 = 300.0
_MIN_LEVEL_SHARE = 0.2


def level_sheets(values: FloatArray, spacing: tuple[float, float, float]) -> BoolArray:
    """Voxels of nearly level sheets: a slice denser than its two neighbours over a
    wide, flat area (the horizontal fissure on axial slices), in aerated lung."""
    sigma = (0.0, _LEVEL_SMOOTH_MM / spacing[1], _LEVEL_SMOOTH_MM / spacing[2])
    smooth = np.asarray(ndi.gaussian_filter(values, sigma), dtype=np.float64)
    excess = np.zeros_like(smooth)
    excess[1:-1] = smooth[1:-1] - 0.5 * (smooth[:-2] + smooth[2:])
    scale = _LEVEL_SMOOTH_MM**2
    across_j = ndi.gaussian_filter(values, sigma, order=(0, 2, 0)) / spacing[1] ** 2 * scale
    across_i = ndi.gaussian_filter(values, sigma, order=(0, 0, 2)) / spacing[2] ** 2 * scale
    flat = (
        (excess > _MIN_LEVEL_EXCESS_HU)
        & (np.abs(across_j) < _FLATNESS * excess)
        & (np.abs(across_i) < _FLATNESS * excess)
        & (smooth < _MAX_RIDGE_HU)
    )
    # a slab is wide: the flanks of a vessel lying in a slice are narrow strips
    rj, ri = (int(np.ceil(_LEVEL_SMOOTH_MM / sp)) for sp in spacing[1:])
    jj, ii = np.ogrid[-rj : rj + 1, -ri : ri + 1]
    disk = (jj * spacing[1]) ** 2 + (ii * spacing[2]) ** 2 <= _LEVEL_SMOOTH_MM**2
    return np.asarray(ndi.binary_opening(flat, structure=disk[None]), dtype=bool)


def _oblique_plane(points: FloatArray, pixel_mm: float) -> FloatArray | None:
    """``(a, b, c)`` of the plane z = a + b y + c x through the fissure lines, or None."""
    need = int(np.ceil(_MIN_FISSURE_MM / pixel_mm))
    if len(points) < need:
        return None
    design = np.column_stack([np.ones(len(points)), points[:, 1], points[:, 0]])
    rng = np.random.default_rng(0)  # deterministic: the same image, the same plane
    best: npt.NDArray[np.bool_] | None = None
    for _ in range(_RANSAC_TRIALS):
        pick = rng.choice(len(points), 3, replace=False)
        try:
            coef = np.linalg.solve(design[pick], points[pick, 2])
        except np.linalg.LinAlgError:
            continue
        if not _SLOPE[0] < coef[1] < _SLOPE[1]:
            continue
        norm_of = np.sqrt(1.0 + coef[1] ** 2 + coef[2] ** 2)
        inliers = np.abs(design @ coef - points[:, 2]) / norm_of < _PLANE_TOLERANCE_MM
        if best is None or inliers.sum() > best.sum():
            best = inliers
    if best is None or best.sum() < need:
        return None
    if np.unique(np.round(points[best, 2], 1)).size < _MIN_PLANE_SLICES:
        return None
    coef = np.linalg.lstsq(design[best], points[best, 2], rcond=None)[0]
    return np.asarray(coef, dtype=np.float64)


def _level(points: FloatArray, slice_mm: float, pixel_mm2: float) -> float | None:
    """The z (mm) of the horizontal fissure among level-sheet points, or None."""
    if len(points) == 0:
        return None
    ks = np.rint(points[:, 2] / slice_mm).astype(np.int64)
    levels, counts = np.unique(ks, return_counts=True)
    count = dict(zip(levels.tolist(), counts.tolist(), strict=True))
    best, k = max((count[k] + count.get(k + 1, 0), k) for k in count)
    if best * pixel_mm2 < _MIN_LEVEL_MM2 or best < _MIN_LEVEL_SHARE * len(points):
        return None
    return float(points[(ks == k) | (ks == k + 1), 2].mean())


def fissure_lobe(
    volume: Volume,
    lungs: LungModel,
    centre_mm: tuple[float, float, float],
    location: LesionLocation,
) -> LesionLocation:
    """The location with its lobe told from the fissures near ``centre_mm``.

    Unchanged where no oblique fissure is found near it. On the right above the
    oblique fissure, without a horizontal fissure found, the position decides
    between the upper lobe (upper zone) and the middle lobe.
    """
    if location.side not in ("right", "left"):
        return location
    spacing = array_spacing(volume)
    ijk = volume.patient_to_index([centre_mm])[0]
    k, j, i = (
        int(np.clip(round(float(ijk[2 - n])), 0, volume.array.shape[n] - 1)) for n in range(3)
    )
    box = crop_slices((k, j, i), _LOBE_CONTEXT_MM, spacing, volume.array.shape)
    values = np.asarray(volume.array[box], dtype=np.float64)
    lung = lungs.envelope_crop(box, side=location.side)
    offset = np.array([b.start for b in box])

    def in_patient(mask: BoolArray) -> FloatArray:
        kji = np.argwhere(mask) + offset
        return np.asarray(
            volume.index_to_patient(kji[:, ::-1].astype(np.float64)), dtype=np.float64
        )

    pixel = float(min(spacing[1:]))
    plane = _oblique_plane(in_patient(fissure_lines(values, spacing) & lung), pixel)
    if plane is None:
        return location
    x, y, z = centre_mm
    if z < plane[0] + plane[1] * y + plane[2] * x:
        return replace(
            location, lobe="RLL" if location.side == "right" else "LLL", lobe_from="oblique fissure"
        )
    if location.side == "left":
        return replace(location, lobe="LUL", lobe_from="oblique fissure")
    sheets = in_patient(level_sheets(values, spacing) & lung)
    above = sheets[sheets[:, 2] > plane[0] + plane[1] * sheets[:, 1] + plane[2] * sheets[:, 0]]
    level = _level(above, spacing[0], float(spacing[1] * spacing[2]))
    if level is None:
        lobe = "RUL" if location.zone == "upper" else "RML"
        return replace(location, lobe=lobe, lobe_from="oblique fissure")
    return replace(location, lobe="RML" if z < level else "RUL", lobe_from="fissures")
