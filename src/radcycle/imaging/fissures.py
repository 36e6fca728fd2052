"""Interlobar fissures near a lung lesion, and whether the lesion is perifissural.

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
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.imaging.masks import BoolArray, array_spacing, crop_slices

__all__ = ["fissure_lines", "is_perifissural"]

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
    distance = ndi.distance_transform_edt(~lesion, sampling=spacing)
    near = (distance > 0.5) & (distance <= _REACH_MM)
    slices = np.flatnonzero(near.any(axis=(1, 2)))
    if slices.size == 0:
        return False
    values = np.asarray(volume.array[context], dtype=np.float64)
    lines = fissure_lines(values[slices], spacing)
    return bool(np.any(lines & near[slices]))
