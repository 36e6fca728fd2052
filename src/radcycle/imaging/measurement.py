"""Measure a lesion from its mask: RECIST axes, 3D diameter, volume, density, type.

Geometry is done on physical points, never on pixel counts. A voxel centre
``(i, j, k)`` maps to LPS through ``origin + direction @ (spacing * ijk)``; because
the direction matrix is orthonormal, distances between voxel centres equal the
distances between the points ``spacing * ijk`` in the grid's own frame, so oblique
grids need no special case, and anisotropic spacing is honoured exactly.

Diameters are measured across the sub-voxel outline of the mask: the iso-0.5
contour of the binary mask (2D, for the axial axes) or its marching-cubes surface
(3D), whose points lie half-way between an inside and an outside voxel centre,
so each end is within half a voxel of the continuous outline the mask samples
(the outline pyradiomics also uses for its maximum diameters). The farthest pair
is found among the convex-hull vertices; the short axis is the longest chord of
the outline perpendicular to the long axis.

RECIST 1.1 (Eisenhauer 2009, section 4.3): the long axis is the longest diameter
in the acquisition (axial) plane, and the short axis the longest diameter
perpendicular to it in the same slice; both are reported here for the slice whose
long axis is largest. Lung-RADS v2022: size = mean of long and short axis,
rounded to one decimal.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull, QhullError
from skimage import measure

from radcycle.domain import Volume
from radcycle.domain.findings import LesionMeasurement, NoduleType, lung_rads_mean_diameter
from radcycle.errors import AnalysisError
from radcycle.imaging import hu
from radcycle.imaging.inputs import modality_of, require_finite, require_mm_geometry
from radcycle.imaging.masks import BoolArray, array_spacing, bbox, check_mask_matches

__all__ = [
    "SOLID_HU",
    "SUV_PEAK_VOLUME_MM3",
    "axial_axes",
    "axial_axis_ends",
    "classify_nodule_type",
    "lung_rads_mean_diameter",
    "max_diameter_3d",
    "measure_lesion",
    "measure_mask",
    "recist_slice",
]

FloatArray = npt.NDArray[np.float64]

# Solid component of a subsolid nodule: voxels at or above -300 HU, the usual
# threshold separating solid from ground-glass attenuation on CT.
SOLID_HU = hu.SOLID_HU
# PERCIST 1.0 (Wahl et al., J Nucl Med 2009): SUVpeak is the mean SUV in a 1 cm3
# sphere (radius 6.2 mm), placed where that mean is highest within the lesion.
SUV_PEAK_VOLUME_MM3 = 1000.0
# Nodule type from the fraction of the lesion core that is solid.
_SOLID_FRACTION = 0.7
# A solid part smaller than this (equivalent sphere) is taken as a vessel or noise.
_MIN_SOLID_DIAMETER_MM = 3.0
# Nodules smaller than this (equivalent sphere) are typed by their peak density.
_SMALL_NODULE_MM = 6.0
_SMALL_SOLID_PEAK_HU = SOLID_HU


def _hull_points(points: FloatArray) -> FloatArray:
    if len(points) < points.shape[1] + 2:
        return points
    try:
        hull = ConvexHull(points)
    except QhullError:
        return points
    result: FloatArray = points[hull.vertices]
    return result


def _farthest_pair(points: FloatArray) -> tuple[int, int, float]:
    """Indices and distance of the two farthest points (chunked brute force)."""
    best = (0, 0, 0.0)
    chunk = 2048
    for start in range(0, len(points), chunk):
        block = points[start : start + chunk]
        d2 = ((block[:, None, :] - points[None, :, :]) ** 2).sum(-1)
        a, b = np.unravel_index(int(np.argmax(d2)), d2.shape)
        if d2[a, b] > best[2] ** 2:
            best = (start + int(a), int(b), float(math.sqrt(d2[a, b])))
    return best


def _contours_2d(slice_mask: BoolArray) -> list[FloatArray]:
    """Sub-voxel outline of a 2D mask: closed iso-0.5 contours as ``(j, i)`` indices."""
    padded = np.pad(slice_mask.astype(np.float64), 1)
    contours = measure.find_contours(padded, 0.5)
    return [np.asarray(c, dtype=np.float64) - 1.0 for c in contours]


def _perpendicular_chord(
    edges: FloatArray, u: FloatArray, samples: int = 256
) -> tuple[float, FloatArray, FloatArray]:
    """Longest chord of the outline perpendicular to ``u`` (RECIST short axis), with its ends.

    Args:
        edges: ``(E, 2, 2)`` outline segments in mm.
        u: unit vector of the long axis.

    Returns:
        the chord's length (0 where there is none) and its two ends, in mm.
    """
    v = np.array([-u[1], u[0]])
    x = edges @ u  # (E, 2) position along the long axis
    y = edges @ v
    t = np.linspace(x.min(), x.max(), samples)[1:-1]
    x0, x1 = x[:, 0:1], x[:, 1:2]
    crosses = (x0 - t) * (x1 - t) <= 0
    span = np.where(np.abs(x1 - x0) > 1e-12, x1 - x0, 1.0)
    frac = np.clip((t - x0) / span, 0.0, 1.0)
    yy = y[:, 0:1] + frac * (y[:, 1:2] - y[:, 0:1])
    hi = np.where(crosses, yy, -np.inf).max(axis=0)
    lo = np.where(crosses, yy, np.inf).min(axis=0)
    valid = np.isfinite(hi) & np.isfinite(lo)
    if not valid.any():
        origin = np.zeros(2)
        return 0.0, origin, origin
    best = int(np.argmax(np.where(valid, hi - lo, -np.inf)))
    return float(hi[best] - lo[best]), t[best] * u + lo[best] * v, t[best] * u + hi[best] * v


def _outline_3d(mask: BoolArray) -> FloatArray:
    """Sub-voxel surface of a 3D mask: iso-0.5 marching-cubes vertices as ``(k, j, i)``."""
    padded = np.pad(mask.astype(np.float64), 1)
    verts, _, _, _ = measure.marching_cubes(padded, 0.5)
    result: FloatArray = np.asarray(verts, dtype=np.float64) - 1.0
    return result


def _long_axis(
    slice_mask: BoolArray, spacing: FloatArray
) -> tuple[FloatArray, FloatArray, float, FloatArray]:
    """Ends (mm) and length of the long axis of a 2D mask, and its outline segments (mm)."""
    contours = [c * spacing for c in _contours_2d(slice_mask)]
    hull = _hull_points(np.concatenate(contours, axis=0))
    a, b, dist = _farthest_pair(hull)
    edges = np.concatenate([np.stack([c[:-1], c[1:]], axis=1) for c in contours], axis=0)
    return hull[a], hull[b], dist, edges


def axial_axes(
    slice_mask: BoolArray, spacing_ji: tuple[float, float]
) -> tuple[float, float, FloatArray, FloatArray]:
    """Long and short axis (mm) of one 2D mask ``[j, i]`` with pixel spacing ``(dj, di)``.

    Returns:
        long axis, short axis, and the two end points of the long axis as
        ``(j, i)`` continuous indices on the outline.

    Example:
        >>> m = np.zeros((9, 9), bool); m[4, 1:8] = True; m[3:6, 4] = True
        >>> [round(x, 1) for x in axial_axes(m, (1.0, 1.0))[:2]]
        [7.0, 3.0]
    """
    spacing = np.asarray(spacing_ji, dtype=np.float64)
    p, q, dist, edges = _long_axis(slice_mask, spacing)
    if dist == 0.0:
        return 0.0, 0.0, p / spacing, p / spacing
    short_axis = _perpendicular_chord(edges, (q - p) / dist)[0]
    return dist, short_axis, p / spacing, q / spacing


def axial_axis_ends(
    slice_mask: BoolArray, spacing_ji: tuple[float, float]
) -> tuple[tuple[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]:
    """End points of the long and the short axis of a 2D mask, as ``(j, i)`` indices.

    The same axes as :func:`axial_axes` measures, for drawing them (key images).

    Example:
        >>> m = np.zeros((9, 9), bool); m[4, 1:8] = True; m[3:6, 4] = True
        >>> (a, b), (c, d) = axial_axis_ends(m, (1.0, 1.0))
        >>> round(float(abs(b[1] - a[1])), 1), round(float(abs(d[0] - c[0])), 1)
        (7.0, 3.0)
    """
    spacing = np.asarray(spacing_ji, dtype=np.float64)
    p, q, dist, edges = _long_axis(slice_mask, spacing)
    if dist == 0.0:
        return (p / spacing, p / spacing), (p / spacing, p / spacing)
    _, c, d = _perpendicular_chord(edges, (q - p) / dist)
    return (p / spacing, q / spacing), (c / spacing, d / spacing)


def recist_slice(mask: BoolArray, spacing_kji: tuple[float, float, float]) -> int:
    """Index ``k`` of the axial slice whose long axis is the lesion's RECIST long axis.

    Raises:
        AnalysisError: the mask is empty.
    """
    return _recist(mask, spacing_kji)[2]


def max_diameter_3d(mask: BoolArray, spacing_kji: tuple[float, float, float]) -> float:
    """Largest 3D diameter (mm) of a mask ``[k, j, i]``, across its sub-voxel surface."""
    pts = _outline_3d(mask) * np.asarray(spacing_kji, dtype=np.float64)
    return _farthest_pair(_hull_points(pts))[2]


def classify_nodule_type(solid_fraction: float, solid_diameter_mm: float) -> str:
    """``solid``, ``part-solid`` or ``ground-glass`` from the solid part of a nodule.

    Args:
        solid_fraction: fraction of the nodule's core (the lesion without its outer
            voxel layer, where partial volume makes a solid edge look hazy) at or
            above :data:`SOLID_HU`.
        solid_diameter_mm: equivalent-sphere diameter of its largest solid part.

    Example:
        >>> classify_nodule_type(0.9, 8.0), classify_nodule_type(0.1, 4.0)
        ('solid', 'part-solid')
        >>> classify_nodule_type(0.02, 1.0)
        'ground-glass'
    """
    if solid_fraction >= _SOLID_FRACTION:
        return "solid"
    if solid_diameter_mm >= _MIN_SOLID_DIAMETER_MM:
        return "part-solid"
    return "ground-glass"


def _suv_peak(
    values: FloatArray, mask: BoolArray, spacing_kji: tuple[float, float, float]
) -> float:
    radius = (3.0 * SUV_PEAK_VOLUME_MM3 / (4.0 * math.pi)) ** (1.0 / 3.0)
    half = [max(0, math.floor(radius / s)) for s in spacing_kji]
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    kernel = sum((g * s) ** 2 for g, s in zip(grids, spacing_kji, strict=True)) <= radius**2
    weights = kernel.astype(np.float64) / kernel.sum()
    local_mean = ndi.correlate(values, weights, mode="nearest")
    return float(local_mean[mask].max())


def _intensity(
    values: FloatArray, mask: BoolArray, spacing: tuple[float, float, float], modality: str
) -> dict[str, float]:
    inside = values[mask]
    if modality == "PT":
        return {
            "suv_max": float(inside.max()),
            "suv_peak": _suv_peak(values, mask, spacing),
            "suv_mean": float(inside.mean()),
        }
    prefix = "hu" if modality == "CT" else "value"
    return {
        f"mean_{prefix}": float(inside.mean()),
        f"max_{prefix}": float(inside.max()),
        f"min_{prefix}": float(inside.min()),
        f"std_{prefix}": float(inside.std()),
    }


def measure_mask(
    volume: Volume, mask: BoolArray, *, modality: str | None = None, lung: bool = False
) -> LesionMeasurement:
    """Measure the lesion marked by ``mask`` (same grid as ``volume``).

    Args:
        volume: the image (CT in HU, PET in SUV, MR in its own units).
        mask: boolean array ``[k, j, i]``; all its voxels count as one lesion.
        modality: ``CT``, ``MR``, ``PT``; read from ``volume.metadata`` if omitted.
        lung: also classify the nodule type and measure its solid component (CT).

    Raises:
        AnalysisError: the mask is empty, the image's millimetres are unknown, or
            values in the lesion are NaN or infinite.
    """
    require_mm_geometry(volume, "measurement")
    box = bbox(mask, margin=(2, 2, 2))
    if box is None:
        raise AnalysisError("the mask is empty (no voxel > 0)")
    sub = np.asarray(mask[box], dtype=bool)
    values = np.asarray(volume.array[box], dtype=np.float64)
    require_finite(values, "measurement")
    spacing = array_spacing(volume)
    mod = modality_of(volume, modality)
    long_axis, short_axis, k_best, ends = _recist(sub, spacing)
    offset = np.array([s.start for s in box], dtype=np.float64)
    centre_kji = np.argwhere(sub).mean(axis=0) + offset
    ends_kji = [np.array([k_best, e[0], e[1]]) + offset for e in ends]
    to_lps = _to_lps(volume)
    slice_centre = to_lps(np.array([k_best + offset[0], centre_kji[1], centre_kji[2]]))
    nodule_type = solid_long = solid_mean = None
    if lung and mod == "CT":
        nodule_type, solid_long, solid_mean = _solid_component(sub, values, spacing)
    long_mm = round(long_axis, 2)
    if solid_mean is not None:
        # the solid part's mean diameter, on its own slice, never above the nodule's
        solid_mean = min(solid_mean, long_mm)
    return LesionMeasurement(
        long_axis_mm=long_mm,
        short_axis_mm=min(round(short_axis, 2), long_mm),
        max_3d_diameter_mm=round(max_diameter_3d(sub, spacing), 2),
        volume_mm3=round(float(sub.sum()) * volume.voxel_volume_mm3, 2),
        centre_mm=to_lps(centre_kji),
        axial_slice_mm=slice_centre,
        long_axis_endpoints_mm=(to_lps(ends_kji[0]), to_lps(ends_kji[1])),
        intensity={k: round(v, 3) for k, v in _intensity(values, sub, spacing, mod).items()},
        nodule_type=NoduleType(nodule_type) if nodule_type else None,
        solid_long_axis_mm=solid_long,
        solid_component_mm=solid_mean,
        voxel_count=int(sub.sum()),
    )


def measure_lesion(
    volume: Volume, mask: Volume, *, modality: str | None = None, lung: bool = False
) -> LesionMeasurement:
    """Measure a lesion given as a mask Volume on the image's grid.

    Raises:
        GeometryError: the mask's grid does not match or does not overlap the image.
        AnalysisError: the mask is empty.
    """
    return measure_mask(volume, check_mask_matches(volume, mask), modality=modality, lung=lung)


def _to_lps(volume: Volume) -> Any:
    def convert(kji: FloatArray) -> tuple[float, float, float]:
        p = volume.index_to_patient([[kji[2], kji[1], kji[0]]])[0]
        return (round(float(p[0]), 2), round(float(p[1]), 2), round(float(p[2]), 2))

    return convert


def _recist(
    mask: BoolArray, spacing: tuple[float, float, float]
) -> tuple[float, float, int, tuple[FloatArray, FloatArray]]:
    best: tuple[float, float, int, tuple[FloatArray, FloatArray]] | None = None
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        long_axis, short_axis, a, b = axial_axes(mask[k], (spacing[1], spacing[2]))
        # ties (equal to 0.01 mm) go to the slice with the longer short axis
        if best is None or (round(long_axis, 2), short_axis) > (round(best[0], 2), best[1]):
            best = (long_axis, short_axis, int(k), (a, b))
    if best is None:
        raise AnalysisError("the mask is empty (no voxel > 0)")
    return best


def _small_and_dense(
    mask: BoolArray, values: FloatArray, spacing: tuple[float, float, float]
) -> bool:
    """A nodule under 6 mm whose densest part reaches soft tissue is solid.

    At that size partial volume averaging makes most of a solid nodule look hazy,
    so its solid share is no guide; its peak (mean of 3x3 pixels in a slice) still is.
    """
    voxel_mm3 = float(np.prod(spacing))
    diameter = (6.0 * float(mask.sum()) * voxel_mm3 / math.pi) ** (1.0 / 3.0)
    if diameter >= _SMALL_NODULE_MM:
        return False
    peak = float(ndi.uniform_filter(values, size=(1, 3, 3))[mask].max())
    return peak >= _SMALL_SOLID_PEAK_HU


def _solid_component(
    mask: BoolArray, values: FloatArray, spacing: tuple[float, float, float]
) -> tuple[str, float | None, float | None]:
    core = ndi.binary_erosion(mask, structure=np.ones((1, 3, 3), dtype=bool))
    if not core.any():
        core = mask
    solid = core & (values >= SOLID_HU)
    labels, n = ndi.label(solid)
    largest = np.zeros_like(solid)
    if n:
        largest = labels == (int(np.argmax(np.bincount(labels.ravel())[1:])) + 1)
    voxel_mm3 = float(np.prod(spacing))
    diameter = (6.0 * float(largest.sum()) * voxel_mm3 / math.pi) ** (1.0 / 3.0)
    nodule_type = classify_nodule_type(float(solid.sum()) / float(core.sum()), diameter)
    if _small_and_dense(mask, values, spacing):
        nodule_type = "solid"
    if nodule_type != "part-solid":
        return nodule_type, None, None
    # the solid component is measured with its partial-volume rim (mask & >= SOLID_HU)
    solid_full = mask & (values >= SOLID_HU) & ndi.binary_dilation(largest)
    long_axis, short_axis, _, _ = _recist(solid_full | largest, spacing)
    return (
        nodule_type,
        round(long_axis, 2),
        lung_rads_mean_diameter(round(long_axis, 2), round(short_axis, 2)),
    )
