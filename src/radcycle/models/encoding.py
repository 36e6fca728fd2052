"""The input contract made concrete: resampling, intensity normalisation, click maps.

Training (:mod:`radcycle.models.training`) and inference
(:mod:`radcycle.models.interactive`) both encode through these functions, so
the network sees at run time exactly what it was trained on.

>>> import numpy as np
>>> maps = click_maps((5, 5, 5), [(2, 2, 2)], [], 1.0, 1.0)
>>> maps.shape, float(maps[0, 2, 2, 2]), float(maps[1].max())
((2, 5, 5, 5), 1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.errors import InputError
from radcycle.models.protocol import InputContract

__all__ = [
    "DEFAULT_NORMALISATION",
    "click_maps",
    "encode",
    "from_model_grid",
    "grid_factor",
    "normalise",
    "to_model_grid",
]

FloatArray = npt.NDArray[np.float32]
Voxel = tuple[int, int, int]

#: Per modality: CT a soft-tissue window (HU), T1 MR its 99th percentile in the
#: patch (the series are N4-corrected and normalised, but not to one scale),
#: PET the SUV over 5, clipped at 20 SUV.
DEFAULT_NORMALISATION: tuple[tuple[str, tuple[str, float, float]], ...] = (
    ("CT", ("window", -250.0, 350.0)),
    ("MR", ("percentile", 99.0, 3.0)),
    ("PT", ("suv", 5.0, 4.0)),
)


def to_model_grid(
    values: npt.NDArray[np.floating],
    spacing: Sequence[float],
    target_mm: float,
    *,
    antialias: bool = False,
) -> FloatArray:
    """``values`` (on voxels of ``spacing`` mm along k, j, i) resampled to
    isotropic ``target_mm`` voxels, linearly.

    With ``antialias``, axes made coarser are first smoothed by a Gaussian of
    ``(factor - 1) / 2`` voxels (as scikit-image's ``rescale``): a 6 mm voxel
    then averages the noise of the 1 mm voxels it covers rather than sampling
    one of them. Masks are resampled without it.
    """
    array = np.asarray(values, dtype=np.float32)
    factors = [float(s) / target_mm for s in spacing]
    if antialias:
        sigma = [max(0.0, (1.0 / f - 1.0) / 2.0) for f in factors]
        if any(x > 0.0 for x in sigma):
            array = np.asarray(ndi.gaussian_filter(array, sigma, truncate=3.0), np.float32)
    return np.asarray(ndi.zoom(array, factors, order=1), np.float32)


def from_model_grid(
    prob: npt.NDArray[np.floating],
    shape: Sequence[int],
    spacing: Sequence[float],
    target_mm: float,
) -> FloatArray:
    """A map on the model grid brought back onto the native grid of ``shape``
    (the grid :func:`to_model_grid` started from, whose corners it keeps), linearly.

    Trilinear interpolation done one axis at a time (the least enlarged first):
    the same values as :func:`scipy.ndimage.map_coordinates` of order 1, at a
    fraction of its cost on a whole series.
    """
    out = np.asarray(prob, np.float32)
    ratios = [n / max(m, 1) for n, m in zip(shape, out.shape, strict=True)]
    for axis in sorted(range(3), key=lambda a: ratios[a]):
        n, m = int(shape[axis]), out.shape[axis]
        pos = np.arange(n, dtype=np.float64) * grid_factor(n, m)
        lo = np.clip(np.floor(pos).astype(np.intp), 0, max(m - 2, 0))
        hi = np.minimum(lo + 1, m - 1)
        w = np.clip(pos - lo, 0.0, 1.0).astype(np.float32)
        w = w.reshape([-1 if a == axis else 1 for a in range(3)])
        out = np.take(out, lo, axis=axis) * (1.0 - w) + np.take(out, hi, axis=axis) * w
    return np.asarray(out, np.float32)


def grid_factor(native: int, model: int) -> float:
    """Model-grid index per native index along an axis (corners aligned, as
    :func:`scipy.ndimage.zoom` resamples)."""
    return (model - 1) / (native - 1) if native > 1 else 0.0


def normalise(
    values: npt.NDArray[np.floating], modality: str, contract: InputContract
) -> FloatArray:
    """Intensities of ``modality`` brought to the scale the model was trained on.

    Raises:
        InputError: the model was not trained on ``modality``.
    """
    if modality not in contract.modalities:
        raise InputError(
            f"the model was trained on {', '.join(contract.modalities)}, not {modality}",
            value=modality,
        )
    kind, a, b = contract.normalisation_of(modality)
    v = np.asarray(values, dtype=np.float32)
    if kind == "window":
        out = (np.clip(v, a, b) - 0.5 * (a + b)) / (0.5 * (b - a))
    elif kind == "percentile":
        scale = float(np.percentile(v, a)) if v.size else 0.0
        out = np.clip(v / scale, 0.0, b) if scale > 0 else np.zeros_like(v)
    elif kind == "suv":
        out = np.clip(v / a, 0.0, b)
    else:
        raise InputError(f"unknown normalisation {kind!r} in the model's contract")
    return np.asarray(out, dtype=np.float32)


def click_maps(
    shape: Sequence[int],
    positive: Sequence[Voxel],
    negative: Sequence[Voxel],
    spacing_mm: float,
    sigma_mm: float,
) -> FloatArray:
    """Two channels: the positive and the negative clicks as Gaussian maps
    (1 at a click, the largest over clicks), on a grid of ``spacing_mm`` voxels."""
    out = np.zeros((2, *shape), dtype=np.float32)
    axes = [np.arange(n, dtype=np.float32) * spacing_mm for n in shape]
    for channel, clicks in enumerate((positive, negative)):
        for click in clicks:
            d2 = sum(
                ((ax - c * spacing_mm) ** 2).reshape([-1 if i == a else 1 for i in range(3)])
                for a, (ax, c) in enumerate(zip(axes, click, strict=True))
            )
            np.maximum(out[channel], np.exp(-d2 / (2.0 * sigma_mm**2)), out=out[channel])
    return out


def encode(
    image: FloatArray,
    positive: Sequence[Voxel],
    negative: Sequence[Voxel],
    modality: str,
    contract: InputContract,
) -> FloatArray:
    """The network input ``[c, d, h, w]`` of a normalised image on the model grid."""
    maps = click_maps(image.shape, positive, negative, contract.spacing_mm, contract.click_sigma_mm)
    onehot = np.zeros((len(contract.modalities), *image.shape), dtype=np.float32)
    onehot[contract.modalities.index(modality)] = 1.0
    return np.concatenate([image[None], maps, onehot], axis=0)
