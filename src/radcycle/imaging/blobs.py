"""The bright blob under a click on CT, found in scale space.

:mod:`radcycle.imaging.segmentation` uses it to tell a click anywhere in a large
tumour from one in a small nodule: the blob gives the tumour's centre and size,
where the lung around it is sought, how large a region to outline it in, and
(:attr:`Blob.larger`) the larger blobs a tumour wider than the click's scale is
found in. docs/lesions.md ("A click anywhere in the lesion") gives the figures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.imaging.masks import array_spacing, crop_slices

__all__ = ["Blob", "blob_at", "distances_from"]

FloatArray = npt.NDArray[np.float64]

# The blob under a click (blob_at): Gaussian scales (mm; a blob's radius is its
# scale times sqrt 3, 3.5-35 mm), the grid it is sought on (mm), how far within
# its radius the click must lie, and the least response (HU) that is a blob.
_BLOB_SCALES_MM = (2.0, 3.0, 4.5, 6.5, 9.5, 14.0, 20.0)
_BLOB_GRID_MM = 2.0
_BLOB_COVER = 0.8
_BLOB_MIN_RESPONSE = 60.0
# A click whose response at a smaller scale falls below minus this (HU) lies in
# a darker lesion inside the blob (a liver lesion's is -24 to -32 HU, the inside
# of a lung tumour's -5 to 10 on the reference cases).
_BLOB_DARK_HU = 15.0


@dataclass(frozen=True)
class Blob:
    """The bright blob under a click on CT, found in scale space.

    Attributes:
        centre: ``[k, j, i]`` voxel of its centre.
        radius_mm: its radius (the scale times sqrt 3).
        response: its scale-normalised Laplacian-of-Gaussian response (HU).
        larger: the blobs reaching the click at the larger scales, smallest
            first (a tumour wider than the click's scale holds the click's blob).
    """

    centre: tuple[int, int, int]
    radius_mm: float
    response: float
    larger: tuple[Blob, ...] = ()


def blob_at(volume: Volume, seed: tuple[int, int, int]) -> Blob | None:
    """The bright blob under ``seed``: its scale, then its centre at that scale.

    On a grid of about :data:`_BLOB_GRID_MM`, the scale-normalised Laplacian of
    Gaussian (``-s^2 LoG``) of the CT (clipped to -1000..200 HU) is taken at the
    scales ``s`` of :data:`_BLOB_SCALES_MM`. The click's scale is the first peak,
    over the scales, of the response at the click that reaches half its highest;
    the blob's centre is the strongest response at that scale among the points
    whose blob (radius ``s * sqrt 3``) reaches the click within
    :data:`_BLOB_COVER` of its radius. A click anywhere in a large tumour finds
    the tumour's centre and size this way; the chest wall, a plate rather than a
    blob, gives little response. None where the response at the centre is under
    :data:`_BLOB_MIN_RESPONSE`, where the click's never rises above zero, or
    where it falls below ``-_BLOB_DARK_HU`` at a smaller scale.
    """
    spacing = np.asarray(array_spacing(volume))
    box = crop_slices(seed, 3.0 * max(_BLOB_SCALES_MM), tuple(spacing), volume.array.shape)
    step = np.maximum(1, np.round(_BLOB_GRID_MM / spacing)).astype(int)
    values = np.asarray(volume.array[box][:: step[0], :: step[1], :: step[2]], dtype=np.float32)
    image = np.clip(values, -1000.0, 200.0)
    grid = spacing * step
    click = np.array([(s - b.start) / t for s, b, t in zip(seed, box, step, strict=True)])
    reach = distances_from([np.arange(n) for n in image.shape], click, grid)
    at_click = tuple(np.rint(click).astype(int).tolist())
    found: list[Blob] = []
    own: list[float] = []
    for scale in _BLOB_SCALES_MM:
        smooth = ndi.gaussian_filter(image, sigma=list(scale / grid), mode="nearest")
        laplace = sum(
            np.gradient(np.gradient(smooth, axis=a), axis=a) / grid[a] ** 2 for a in range(3)
        )
        response = -(scale**2) * laplace
        own.append(float(response[at_click]))
        near = np.where(reach <= _BLOB_COVER * scale * np.sqrt(3.0), response, -np.inf)
        at = np.unravel_index(int(np.argmax(near)), near.shape)
        centre = tuple(int(x * t + b.start) for x, t, b in zip(at, step, box, strict=True))
        found.append(Blob((centre[0], centre[1], centre[2]), scale * np.sqrt(3.0), float(near[at])))
    # the click's own scale: the first peak of its response over the scales that
    # reaches half the highest (a small nodule peaks at its scale before a larger
    # structure beside it does; the flat inside of a large tumour only responds
    # at the tumour's scale)
    top = max(own)
    for n, value in enumerate(own):
        peak = value >= top * 0.5 and (n + 1 == len(own) or own[n + 1] <= value)
        if top > 0 and peak:
            # a click in a dark spot of a bright blob (a hypodense liver lesion
            # under the dome) is in a lesion of its own, not in the blob
            dark = min(own[: n + 1]) < -_BLOB_DARK_HU
            if found[n].response < _BLOB_MIN_RESPONSE or dark:
                return None
            larger = tuple(b for b in found[n + 1 :] if b.response >= _BLOB_MIN_RESPONSE)
            return replace(found[n], larger=larger)
    return None


def distances_from(axes: list[npt.NDArray[np.int_]], centre: Any, spacing: Any) -> FloatArray:
    """Distance (mm) from ``centre`` of each point of the grid of index ``axes``."""
    k, j, i = ((a - c) * d for a, c, d in zip(axes, centre, spacing, strict=True))
    result: FloatArray = np.sqrt(k[:, None, None] ** 2 + j[None, :, None] ** 2 + i**2)
    return result
