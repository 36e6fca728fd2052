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

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.errors import InputError
from radcycle.imaging.masks import array_spacing
from radcycle.models.protocol import InputContract

__all__ = [
    "DEFAULT_NORMALISATION",
    "click_maps",
    "encode",
    "from_model_grid",
    "grid_factor",
    "grid_points_in",
    "model_stack",
    "normalise",
    "to_model_grid",
]

FloatArray = npt.NDArray[np.float32]
Voxel = tuple[int, int, int]
Box = tuple[slice, slice, slice]

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


def model_stack(
    volume: Volume,
    modality: str,
    companions: Mapping[str, Volume],
    box: Box,
    contract: InputContract,
) -> FloatArray:
    """The input of a model with companions (``contract.companions``): the region
    ``box`` of ``volume`` on the model grid, and each companion series sampled
    at the same points in patient space, as ``[2m, d, h, w]``: one normalised
    image channel per modality of the contract, then one channel per modality
    that is 1 where that series covers the point (0 where it is absent or ends;
    its image channel is 0 there too).

    Raises:
        InputError: a companion of a modality the model was not trained on, or
            of the same modality as ``volume``.
    """
    spacing = array_spacing(volume)
    region = np.asarray(volume.array[box], dtype=np.float32)
    grid = to_model_grid(region, spacing, contract.spacing_mm, antialias=contract.antialias)
    n = len(contract.modalities)
    out = np.zeros((2 * n, *grid.shape), dtype=np.float32)
    primary = contract.modalities.index(modality)
    out[primary] = normalise(grid, modality, contract)
    out[n + primary] = 1.0
    for other, series in companions.items():
        if other not in contract.modalities:
            raise InputError(
                f"companion series of {other}: the model was trained on "
                f"{', '.join(contract.modalities)}",
                value=other,
            )
        if other == modality:
            raise InputError(f"a companion series must be of another modality than {modality}")
        at = contract.modalities.index(other)
        out[at], out[n + at] = _sampled(
            volume, box, region.shape, grid.shape, series, other, contract
        )
    return out


def grid_points_in(
    volume: Volume, box: Box, native: Sequence[int], shape: Sequence[int], series: Volume
) -> npt.NDArray[np.float64]:
    """The model-grid points of ``volume[box]`` (``native`` voxels along each
    axis, resampled to a grid of ``shape`` with corners aligned, as
    :func:`to_model_grid` does) as continuous voxel indices ``[3, n]`` (k, j, i)
    of ``series``, through patient space."""
    axes = [
        b.start + np.arange(m, dtype=np.float64) * grid_factor(m, n)
        for b, n, m in zip(box, native, shape, strict=True)
    ]
    kk, jj, ii = np.meshgrid(*axes, indexing="ij")
    xyz = volume.index_to_patient(np.stack([ii.ravel(), jj.ravel(), kk.ravel()], axis=1))
    return np.asarray(series.patient_to_index(xyz)[:, ::-1].T, np.float64)


def _sampled(
    volume: Volume,
    box: Box,
    native: Sequence[int],
    shape: Sequence[int],
    series: Volume,
    modality: str,
    contract: InputContract,
) -> tuple[FloatArray, FloatArray]:
    """``series`` at the model-grid points of ``volume[box]`` (antialiased as the
    contract says), normalised, and whether each point lies inside it."""
    at = grid_points_in(volume, box, native, shape, series)
    limits = np.asarray(series.array.shape, dtype=np.float64)[:, None]
    inside = np.all((at >= -0.5) & (at <= limits - 0.5), axis=0)
    values = np.zeros(at.shape[1], dtype=np.float32)
    if inside.any():
        step = array_spacing(series)
        sigma = [
            max(0.0, (contract.spacing_mm / s - 1.0) / 2.0) if contract.antialias else 0.0
            for s in step
        ]
        margin = [int(np.ceil(3.0 * x)) + 2 for x in sigma]
        lo = [max(int(np.floor(at[a][inside].min())) - margin[a], 0) for a in range(3)]
        hi = [
            min(int(np.ceil(at[a][inside].max())) + margin[a] + 1, series.array.shape[a])
            for a in range(3)
        ]
        crop = np.asarray(series.array[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]], np.float32)
        if any(x > 0.0 for x in sigma):
            crop = np.asarray(ndi.gaussian_filter(crop, sigma, truncate=3.0), np.float32)
        local = at[:, inside] - np.asarray(lo, dtype=np.float64)[:, None]
        sampled = ndi.map_coordinates(crop, local, order=1, mode="nearest")
        values[inside] = normalise(sampled, modality, contract)
    return values.reshape(shape), inside.reshape(shape).astype(np.float32)


def encode(
    image: FloatArray,
    positive: Sequence[Voxel],
    negative: Sequence[Voxel],
    modality: str,
    contract: InputContract,
) -> FloatArray:
    """The network input ``[c, d, h, w]`` of a normalised image on the model grid
    (with companions, of the stack :func:`model_stack` made)."""
    if contract.companions:
        maps = click_maps(
            image.shape[1:], positive, negative, contract.spacing_mm, contract.click_sigma_mm
        )
        return np.concatenate([image, maps], axis=0)
    maps = click_maps(image.shape, positive, negative, contract.spacing_mm, contract.click_sigma_mm)
    onehot = np.zeros((len(contract.modalities), *image.shape), dtype=np.float32)
    onehot[contract.modalities.index(modality)] = 1.0
    return np.concatenate([image[None], maps, onehot], axis=0)
