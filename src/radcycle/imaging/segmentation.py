"""Click-to-segment: a 3D lesion mask from one point in patient coordinates.

What a radiologist does with the mouse: click in the lesion, get its outline.
The method depends on the image and on where the click falls, chosen by data
(:data:`STRATEGIES`), not by branches:

* ``lung-nodule`` (CT, the click surrounded by aerated lung, or a soft-tissue
  outline that turns out to border aerated lung): threshold between
  the nodule and the parenchyma around it (-400 HU for solid nodules, half-way to
  the parenchyma for ground-glass ones), the connected part holding the click,
  then a distance-transform watershed that cuts vessels and the chest wall off at
  their necks.
* ``soft-tissue`` (CT or MR elsewhere), the method per modality:
  on CT ``soft-tissue-level-set``, a threshold level set grown from a small ball
  at the click inside an intensity window learnt there, stopped when its front
  slows at the lesion's edge; on MR ``soft-tissue-watershed``, an intensity
  window learnt around the click, then a marker watershed on the gradient
  magnitude with the click as the lesion marker and tissue outside the window
  as background. An outline that has leaked into a neighbour is concave: where
  the modality's method gives one less convex than :data:`_MIN_SOLIDITY`, the
  other method's outline is kept if it is more convex.
* ``pet`` (PET): the anatomical tumour, as a GTV drawn on CT or MR holds it:
  the 3D convex hull of the uptake above 25 % of the background-corrected local
  SUVmax, so that necrotic cores are inside even where their hot rim is open;
  ``pet-41`` is the EANM 41 % metabolic volume, holes filled, no hull.

The result carries a quality flag; ``leak`` means the outline reached the edge of
the largest region of interest tried, so it probably ran into a neighbour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull, QhullError
from skimage import segmentation as skseg

from radcycle.domain import Volume
from radcycle.errors import AnalysisError, InputError
from radcycle.imaging.masks import (
    BoolArray,
    array_spacing,
    ball,
    check_mask_matches,
    component_at,
    crop_slices,
    voxel_of_point,
)

__all__ = [
    "STRATEGIES",
    "RoiSegmentation",
    "SegmentationResult",
    "mask_from_volume",
    "segment_at_seed",
    "segment_roi",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Slices = tuple[slice, slice, slice]

# Below this a CT voxel is air (HU); the body outline is drawn at -500 HU.
_AIR_HU = -900.0
_BODY_HU = -500.0
# EANM procedure guidelines for tumour PET imaging v2.0 (Boellaard et al. 2015):
# the fixed 41 % of SUVmax threshold outlines the metabolic volume ("pet-41").
# The default "pet" outline targets the anatomical tumour volume instead (what a
# GTV drawn on CT/MR holds, necrosis included): the convex hull of the uptake
# above 25 % of the background-corrected peak, the fraction chosen
# leave-one-patient-out on the sarcoma PET series (docs/lesions.md gives the figures).
_PET_FRACTION = 0.25
_PET_METABOLIC_FRACTION = 0.41
# MR and PET: a click whose surroundings hold less than this share of the image's
# 99th percentile is in the air around the body.
_NO_SIGNAL: dict[str, float] = {"MR": 0.05, "PT": 0.02}
_SOFT_OPEN_MM = 2.0
# Soft tissue: per modality, the half-size (mm) of the box around the click where
# the intensity window is learnt, and the Gaussian scale (mm) of the edges; MR
# lesions are more textured, so both are larger (chosen on the sarcoma series,
# docs/lesions.md gives the figures).
_SOFT_TISSUE_MM: dict[str, tuple[float, float]] = {"CT": (6.0, 1.5), "MR": (10.0, 2.0)}
# Soft tissue on CT: a threshold level set grown from a ball of this radius (mm)
# at the click, inside the window median +- _LEVEL_SET_K robust SD learnt there,
# advanced in steps of _LEVEL_SET_STEP iterations and stopped at the first step
# whose mean front advance (volume gained / surface) falls below _LEVEL_SET_STOP
# of the fastest step: the front slows where it meets the lesion's edge and only
# seeps on through gaps in it. k and the stop fraction were chosen
# leave-one-patient-out on the sarcoma CTs (docs/lesions.md gives the figures).
_LEVEL_SET_RADIUS_MM = 5.0
_LEVEL_SET_K = 1.5
_LEVEL_SET_STEP = 25
_LEVEL_SET_MAX_STEPS = 28
_LEVEL_SET_STOP = 0.9
# The window is centred on the median within _WINDOW_CENTRE_MM of the click (a
# ball inside a 10 mm lymph node) and its spread is the noise SD times
# _TEXTURE_FACTOR: lesions are textured, and on the sarcoma CTs the plain robust SD
# in the 6 mm box was 1.4-1.7 times the noise SD. Learnt that way rather than from
# the plain spread of the box, the window of a small lesion is not widened by the
# tissue around it (docs/lesions.md gives the figures).
_WINDOW_CENTRE_MM = 3.0
# An outline whose surroundings differ from it by this many noise SDs has an
# edge; it is moved out to the edge's half-way level by at most _EDGE_REACH_MM.
_EDGE_CONTRAST = 3.0
_EDGE_REACH_MM = 2.0
_TEXTURE_FACTOR = 1.5
# The window is at least this wide each side (HU): soft-tissue noise on a clinical
# CT is 10 HU SD or more, so a narrower window only reflects a smooth image.
_LEVEL_SET_MIN_HALF_HU = 15.0
# A soft-tissue outline less convex than this (volume over convex-hull volume)
# has leaked into a neighbour: the reference GTVs of the sarcoma series have
# 0.89-0.98, the outlines that leaked 0.61-0.74 and the others 0.92-0.98
# (docs/lesions.md); any value between 0.75 and 0.89 separates them.
_MIN_SOLIDITY = 0.8
# Where it has, and the two methods' outlines share less than this (Dice), the
# outline kept is flagged "uncertain".
_MIN_AGREEMENT = 0.5
# An outline that spans the whole image along an axis this long (mm) or longer
# is tissue filling the field of view, not a lesion.
_SPAN_MM = 30.0
# The watershed outline that tells a node beside the lung from a lung lesion is
# drawn in a region of this half-size (mm): nodes are under 30 mm.
_PROBE_ROI_MM = 25.0
# Fat on CT (HU): mediastinal and chest-wall fat is about -100.
_FAT_HU = (-200.0, -30.0)
# Lung lesions: the fraction of aerated-lung voxels (-950..-500 HU; outside air is
# below -950) within 25 mm of the click above which the lung strategy is used.
_LUNG_FRACTION = 0.15
# A soft-tissue outline on CT with this share of aerated lung around it is a lung
# tumour after all (e.g. a large mass with consolidation): it is redone as one.
_LUNG_SHELL_SHARE = 0.1
# Edge of a solid lung lesion (HU) and the vessel-opening ball (fraction of depth),
# tuned on the pyradiomics lung cases (docs/lesions.md).
_LUNG_SOLID_EDGE_HU = -400.0
_OPEN_FRACTION = 0.4
# A large lung tumour's neck cut also takes off some of its own rim where it
# abuts the mediastinum or chest wall: the outline is regrown into the cut-off
# part of the thresholded region by this fraction of its depth (chosen
# leave-one-out on the three lung lesions, docs/lesions.md).
_REGROW_FRACTION = 0.2
# The lung-nodule watershed is sized from the deepest point within this
# distance (mm) of the click, not from the click itself.
_CLIMB_MM = 3.0
# A ground-glass nodule is at least this much denser than the lung around it (HU).
_MIN_NODULE_CONTRAST_HU = 150.0
# A solid core whose surrounding shell is mostly ground-glass is part-solid.
_HALO_SHARE = 0.5


@dataclass(frozen=True)
class SegmentationResult:
    """A lesion mask on the image's grid with how it was made.

    Args:
        mask: boolean Volume on the image grid.
        method: the strategy used (``lung-nodule``, ``soft-tissue``, ``pet``, ``given``).
        quality: ``ok``, or ``leak`` where the outline is probably unreliable.
        details: thresholds and sizes used, for provenance.
    """

    mask: Volume
    method: str
    quality: str = "ok"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Context:
    values: FloatArray  # ROI values
    seed: tuple[int, int, int]  # seed voxel inside the ROI
    spacing: tuple[float, float, float]  # (dk, dj, di)
    modality: str = "CT"


def _modality(volume: Volume) -> str:
    meta: Any = volume.metadata
    value = str(meta.get("modality") or meta.get("Modality") or "").upper()
    if value in {"PT", "PET"}:
        return "PT"
    if value:
        return value
    # No metadata: CT by its HU range (air at about -1000 present).
    return "CT" if float(np.min(volume.array)) < -500 else "MR"


def _seed_value(ctx: _Context, radius_mm: float = 1.5) -> float:
    sl = crop_slices(ctx.seed, radius_mm, ctx.spacing, ctx.values.shape)
    return float(np.median(ctx.values[sl]))


def _lung_fraction(values: FloatArray) -> float:
    return float(np.mean((values > -950.0) & (values < _BODY_HU)))


def _split_necks(region: BoolArray, ctx: _Context) -> BoolArray:
    """Keep the lobe of ``region`` that holds the seed, cut off at narrow necks.

    A watershed of the distance map splits the region into lobes, one per deep
    point; the lobe grown from a ball at the seed is the lesion, so vessels and
    the chest wall are cut off at their necks.
    """
    dist = ndi.distance_transform_edt(region, sampling=ctx.spacing)
    click = ctx.seed
    ctx = replace(ctx, seed=_deepest_near(dist, ctx))
    seed_depth = float(dist[ctx.seed])
    size = [max(3, 2 * round(max(seed_depth, 2.0) / sp) + 1) for sp in ctx.spacing]
    peaks = (ndi.maximum_filter(dist, size=size) == dist) & (dist >= max(1.5, 0.5 * seed_depth))
    markers, _ = ndi.label(peaks)
    centre = np.zeros(region.shape, dtype=bool)
    centre[ctx.seed] = True
    near = ndi.distance_transform_edt(~centre, sampling=ctx.spacing) <= max(seed_depth, 1.5)
    markers[near & region] = markers.max() + 1
    labels = skseg.watershed(-dist, markers, mask=region)
    lobe = labels == labels[ctx.seed]
    # the climb never takes the outline off the click
    return np.asarray(lobe if lobe[click] else labels == labels[click], dtype=bool)


def _deepest_near(dist: FloatArray, ctx: _Context) -> tuple[int, int, int]:
    """The top of the depth map uphill from the click, if within :data:`_CLIMB_MM`.

    A click off a nodule's centre (or a detector's candidate point) sits where
    the region is shallow; sizing the watershed from there splits a small oval
    nodule in two across thick slices. The click moves uphill on the depth map,
    one neighbour at a time; where the map still rises at :data:`_CLIMB_MM` (the
    click is on the flank of something larger, e.g. the chest wall beside a
    nodule), the click stays where it was.
    """
    start = np.asarray(ctx.seed, dtype=float)
    spacing = np.asarray(ctx.spacing)
    offsets = [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]
    here = ctx.seed
    while True:
        best, best_depth, capped = here, float(dist[here]), False
        for a, b, c in offsets:
            step = (here[0] + a, here[1] + b, here[2] + c)
            if not all(0 <= x < n for x, n in zip(step, dist.shape, strict=True)):
                continue
            if float(dist[step]) <= best_depth:
                continue
            if np.linalg.norm((np.asarray(step) - start) * spacing) > _CLIMB_MM:
                capped = True
                continue
            best, best_depth = step, float(dist[step])
        if best == here:
            return ctx.seed if capped else here
        here = best


def _lung_nodule(ctx: _Context) -> tuple[BoolArray, dict[str, Any]]:
    seed_hu = _seed_value(ctx)
    smooth = ndi.gaussian_filter(ctx.values, sigma=[0.6 / s for s in ctx.spacing])
    around = ctx.values[crop_slices(ctx.seed, 20.0, ctx.spacing, ctx.values.shape)]
    parenchyma = float(np.median(around[around < _BODY_HU])) if (around < _BODY_HU).any() else -850
    # solid nodules: the conventional -500 HU edge; subsolid ones: half-way to the lung
    if seed_hu < parenchyma + _MIN_NODULE_CONTRAST_HU:
        raise AnalysisError(
            "no nodule at the seed: it lies in aerated lung", value=round(seed_hu, 1)
        )
    threshold = _LUNG_SOLID_EDGE_HU if seed_hu > -300.0 else 0.5 * (seed_hu + parenchyma)
    mask = _grow_nodule(ctx, smooth > threshold)
    details = {"threshold_hu": round(threshold, 1), "seed_hu": round(seed_hu, 1)}
    halo, share = _halo(mask, ctx, parenchyma)
    if seed_hu > -300.0 and share >= _HALO_SHARE:
        # a solid core in a ground-glass halo (part-solid): outline the whole nodule
        threshold = 0.5 * (halo + parenchyma)
        mask = mask | _grow_nodule(ctx, smooth > threshold)
        details.update(threshold_hu=round(threshold, 1), halo_hu=round(halo, 1))
    return mask, details


def _grow_nodule(ctx: _Context, above: BoolArray) -> BoolArray:
    region = component_at(above, ctx.seed)
    if not region.any():
        raise AnalysisError("no nodule at the seed: it lies in aerated lung")
    lobe = mask = _split_necks(region, ctx)
    # vessels leaving the nodule: opened off with a ball a fraction of its depth
    depth = float(ndi.distance_transform_edt(mask, sampling=ctx.spacing)[ctx.seed])
    radius = float(np.clip(_OPEN_FRACTION * depth, 1.0, 4.0))
    opened = ndi.binary_opening(mask, structure=ball(radius, ctx.spacing))
    if opened[ctx.seed]:
        mask = component_at(opened, ctx.seed)
    reach = _REGROW_FRACTION * depth
    if reach >= min(ctx.spacing):  # small nodules: nothing within reach
        near = ndi.distance_transform_edt(~mask, sampling=ctx.spacing) <= reach
        mask = mask | (region & near & ~lobe)  # not the vessels opened off
    return _fill_holes(mask)


def _halo(mask: BoolArray, ctx: _Context, parenchyma: float) -> tuple[float, float]:
    """Ground-glass around a mask: its median HU and its share of a 1-3 mm shell.

    The shell starts beyond the partial-volume rim; ground-glass there is denser
    than the lung by :data:`_MIN_NODULE_CONTRAST_HU` but below solid (-300 HU), so
    the chest wall and vessels do not count.
    """
    near = ndi.distance_transform_edt(~mask, sampling=ctx.spacing)
    values = ctx.values[(near > 1.0) & (near <= 3.0)]
    if values.size == 0:
        return -1000.0, 0.0
    glass = (values >= parenchyma + _MIN_NODULE_CONTRAST_HU) & (values < -300.0)
    share = float(glass.mean())
    return (float(np.median(values[glass])) if glass.any() else -1000.0), share


def _fill_holes(mask: BoolArray) -> BoolArray:
    """Fill holes in 3D, then slice by slice (cavities open at the lesion's ends)."""
    out = np.asarray(ndi.binary_fill_holes(mask), dtype=bool)
    for k in np.flatnonzero(out.any(axis=(1, 2))):
        out[k] = ndi.binary_fill_holes(out[k])
    return out


def _soft_tissue(ctx: _Context) -> tuple[BoolArray, dict[str, Any]]:
    """The soft-tissue method of the image's modality (:data:`_SOFT_TISSUE_METHOD`)."""
    return _SOFT_TISSUE_METHOD.get(ctx.modality, _watershed)(ctx)


def _near_click(values: FloatArray, ctx: _Context, radius_mm: float) -> FloatArray:
    """The values in a ball of ``radius_mm`` around the click."""
    box = crop_slices(ctx.seed, radius_mm, ctx.spacing, ctx.values.shape)
    axes = [
        (np.arange(sl.start, sl.stop) - c) * sp
        for sl, c, sp in zip(box, ctx.seed, ctx.spacing, strict=True)
    ]
    k, j, i = np.meshgrid(*axes, indexing="ij", sparse=True)
    inside = k**2 + j**2 + i**2 <= radius_mm**2 + 1e-9
    return np.asarray(values[box][inside], dtype=np.float64)


def _noise_sd(values: FloatArray, ctx: _Context) -> float:
    """Noise SD from in-plane neighbour differences in the box around the click.

    Differences of neighbours cancel what is smooth, and their median ignores the
    few pairs that straddle an edge, so a small lesion's surroundings (the fat
    around a lymph node) do not widen the estimate as they do a plain spread.
    """
    core_mm = _SOFT_TISSUE_MM.get(ctx.modality, _SOFT_TISSUE_MM["MR"])[0]
    box = values[crop_slices(ctx.seed, core_mm, ctx.spacing, ctx.values.shape)]
    diffs = np.concatenate([np.diff(box, axis=2).ravel(), np.diff(box, axis=1).ravel()])
    if diffs.size == 0:
        return 1e-6
    return max(1.4826 * float(np.median(np.abs(diffs))) / float(np.sqrt(2.0)), 1e-6)


def _sitk_image(array: FloatArray, spacing: tuple[float, float, float]) -> sitk.Image:
    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.SetSpacing((spacing[2], spacing[1], spacing[0]))  # SimpleITK orders (x, y, z)
    return image


def _level_set(ctx: _Context) -> tuple[BoolArray, dict[str, Any]]:
    """Threshold level set from a ball at the click, stopped where its front stalls."""
    smooth = ndi.median_filter(ctx.values, size=3)
    # the window: centred on the filtered image near the click, as wide as the
    # noise of the unfiltered one (the front then passes the residual noise of the
    # filtered image it moves on) and the texture of a lesion
    centre = float(np.median(_near_click(smooth, ctx, _WINDOW_CENTRE_MM)))
    spread = _TEXTURE_FACTOR * _noise_sd(ctx.values, ctx)
    floor = _LEVEL_SET_MIN_HALF_HU if ctx.modality == "CT" else 0.0  # HU: CT only
    half = max(_LEVEL_SET_K * spread, floor)
    lo, hi = centre - half, centre + half
    click = np.zeros(ctx.values.shape, dtype=bool)
    click[ctx.seed] = True
    dist = ndi.distance_transform_edt(~click, sampling=ctx.spacing)
    level = _sitk_image(dist - _LEVEL_SET_RADIUS_MM, ctx.spacing)
    feature = _sitk_image(smooth, ctx.spacing)
    grow = sitk.ThresholdSegmentationLevelSetImageFilter()
    grow.SetLowerThreshold(lo)
    grow.SetUpperThreshold(hi)
    grow.SetMaximumRMSError(0.0)  # steps of fixed length; the stop rule is below
    grow.SetNumberOfIterations(_LEVEL_SET_STEP)
    voxel = float(np.prod(ctx.spacing))
    mask = np.asarray(dist <= _LEVEL_SET_RADIUS_MM, dtype=bool)
    fastest = 0.0
    for step in range(_LEVEL_SET_MAX_STEPS):
        level = grow.Execute(level, feature)
        grown = np.asarray(sitk.GetArrayFromImage(level) < 0, dtype=bool)
        grown = component_at(grown, ctx.seed) if grown[ctx.seed] else grown
        # surface area: the volume of a 3 mm shell outside the outline over 3 mm
        outside = ndi.distance_transform_edt(~grown, sampling=ctx.spacing)
        surface = float(np.count_nonzero((outside > 0) & (outside <= 3.0))) * voxel / 3.0
        advance = float(grown.sum() - mask.sum()) * voxel / max(surface, voxel)
        mask = grown
        if step == 0:  # the first step also reshapes the starting ball
            continue
        fastest = max(fastest, advance)
        if advance < _LEVEL_SET_STOP * fastest:
            break
    mask = np.asarray(ndi.binary_fill_holes(mask), dtype=bool)
    mask, edge = _to_half_way(mask, ctx, smooth, (lo, hi), spread / _TEXTURE_FACTOR)
    details: dict[str, Any] = {
        "window": [round(float(lo), 2), round(float(hi), 2)],
        "level_set_steps": step + 1,
    }
    if edge is not None:
        details["edge"] = round(edge, 2)
    return mask, details


def _to_half_way(
    mask: BoolArray,
    ctx: _Context,
    smooth: FloatArray,
    window: tuple[float, float],
    noise: float,
) -> tuple[BoolArray, float | None]:
    """Move an outline out to the half-way level of its edge, where there is one.

    The level set stops where the blurred edge leaves the window, inside the
    lesion; the edge of a blurred step is half-way between the two sides. Where
    the tissue around the outline differs from the lesion by more than
    :data:`_EDGE_CONTRAST` noise SDs, the voxels of the transition (between
    that half-way level and the window) within :data:`_EDGE_REACH_MM` of the
    outline join it. Returns the outline and the half-way level (None: no edge).
    """
    outside = ndi.distance_transform_edt(~mask, sampling=ctx.spacing)
    inside = ndi.distance_transform_edt(mask, sampling=ctx.spacing)
    core, around = smooth[inside > 1.0], smooth[(outside > 2.0) & (outside <= 4.0)]
    if core.size == 0 or around.size == 0:
        return mask, None
    lesion, tissue = float(np.median(core)), float(np.median(around))
    if abs(lesion - tissue) < _EDGE_CONTRAST * noise:
        return mask, None
    half = 0.5 * (lesion + tissue)
    lo, hi = window
    band = (smooth >= half) & (smooth < lo) if tissue < lesion else (smooth > hi) & (smooth <= half)
    grown = mask | (band & (outside > 0) & (outside <= _EDGE_REACH_MM))
    return component_at(grown, ctx.seed), half


def _watershed(ctx: _Context) -> tuple[BoolArray, dict[str, Any]]:
    smooth = ndi.median_filter(ctx.values, size=3)
    core_mm, edge_mm = _SOFT_TISSUE_MM.get(ctx.modality, _SOFT_TISSUE_MM["MR"])
    core = crop_slices(ctx.seed, core_mm, ctx.spacing, ctx.values.shape)
    sample = smooth[core]
    centre = float(np.median(sample))
    spread = max(1.4826 * float(np.median(np.abs(sample - centre))), 1e-6)
    lo, hi = centre - 3.0 * spread, centre + 3.0 * spread
    inside = (smooth >= lo) & (smooth <= hi)
    grad = ndi.gaussian_gradient_magnitude(ctx.values, sigma=[edge_mm / s for s in ctx.spacing])
    markers = np.zeros(ctx.values.shape, dtype=np.int32)
    far = ndi.binary_erosion(~inside, structure=ball(2.0, ctx.spacing))
    markers[far] = 1
    markers[[0, -1], :, :] = 1
    markers[:, [0, -1], :] = 1
    markers[:, :, [0, -1]] = 1
    seed_ball = np.zeros(ctx.values.shape, dtype=bool)
    seed_ball[core] = True
    markers[seed_ball & inside] = 2
    labels = skseg.watershed(grad, markers)
    mask = component_at(labels == 2, ctx.seed) if labels[ctx.seed] == 2 else labels == 2
    # leaks through thin bridges are opened off
    mask = ndi.binary_opening(mask, structure=ball(_SOFT_OPEN_MM, ctx.spacing)) | seed_ball & inside
    mask = component_at(mask, ctx.seed) if mask[ctx.seed] else mask
    mask = ndi.binary_fill_holes(mask)
    return mask, {"window": [round(lo, 2), round(hi, 2)]}


#: Soft-tissue method per modality (MR and others: the gradient watershed).
_SOFT_TISSUE_METHOD: dict[str, Callable[[_Context], tuple[BoolArray, dict[str, Any]]]] = {
    "CT": _level_set,
}


def _pet(ctx: _Context, *, anatomical: bool = True) -> tuple[BoolArray, dict[str, Any]]:
    """PET outline: the anatomical tumour (default) or the EANM metabolic volume.

    The anatomical outline is the convex hull of the uptake above
    :data:`_PET_FRACTION`: a necrotic core whose hot rim is open on a side (a
    C-shaped ring), which no hole filling closes, is then part of the tumour.
    """
    fraction = _PET_FRACTION if anatomical else _PET_METABOLIC_FRACTION
    near = crop_slices(ctx.seed, 15.0, ctx.spacing, ctx.values.shape)
    suv_max = float(ctx.values[near].max())
    background = float(np.median(ctx.values))
    threshold = background + fraction * (suv_max - background)
    region = ctx.values >= threshold
    labels, _ = ndi.label(region)
    hits = np.unique(labels[near][ctx.values[near] >= threshold])
    mask = _fill_holes(np.isin(labels, hits[hits > 0]))  # closed necrotic cores
    if anatomical:
        mask = _convex_hull(mask)
    return mask, {"suv_max": round(suv_max, 3), "threshold": round(threshold, 3)}


def _convex_hull(mask: BoolArray) -> BoolArray:
    """The 3D convex hull of a mask, voxel centres inside or on it (the mask itself
    where it is flat).

    The hull of the surface voxels (qhull) gives half-spaces; along each row of
    the grid they leave one interval inside, so the hull is filled row by row.
    This equals ``skimage.morphology.convex_hull_image(mask,
    offset_coordinates=False)`` and is 50-70 times faster on a 120x120x37 region,
    which matters as every soft-tissue outline's solidity needs it.
    """
    box = ndi.find_objects(mask.astype(np.uint8))
    if not box or box[0] is None:
        return mask
    sub = mask[box[0]]
    if min(sub.shape) < 2:  # one slice or one row thick: no 3D hull
        return mask
    points = np.argwhere(sub & ~ndi.binary_erosion(sub))
    try:
        hull = ConvexHull(points)
    except QhullError:  # all voxel centres in one plane
        return mask
    normal, offset = hull.equations[:, :3], hull.equations[:, 3]  # inside: n.p + d <= 0
    k, j = np.meshgrid(np.arange(sub.shape[0]), np.arange(sub.shape[1]), indexing="ij")
    room = -(normal[:, 0] * k[..., None] + normal[:, 1] * j[..., None] + offset) + 1e-9
    along = normal[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = room / along
    lo = np.max(np.where(along < -1e-12, bound, -np.inf), axis=-1)
    hi = np.min(np.where(along > 1e-12, bound, np.inf), axis=-1)
    level = np.all(np.where(np.abs(along) <= 1e-12, room >= 0, True), axis=-1)
    i = np.arange(sub.shape[2])
    inside = (i >= lo[..., None]) & (i <= hi[..., None]) & level[..., None]
    out = mask.copy()
    out[box[0]] |= inside
    return out


Strategy = Callable[[_Context], tuple[BoolArray, dict[str, Any]]]

#: Strategy per name, each with the ROI half-sizes (mm) it tries, smallest first.
STRATEGIES: dict[str, tuple[Strategy, tuple[float, ...]]] = {
    "lung-nodule": (_lung_nodule, (30.0, 60.0, 100.0)),
    "soft-tissue": (_soft_tissue, (60.0, 100.0)),
    "soft-tissue-level-set": (_level_set, (60.0, 100.0)),
    "soft-tissue-watershed": (_watershed, (60.0, 100.0)),
    "pet": (_pet, (60.0, 120.0)),
    "pet-41": (lambda ctx: _pet(ctx, anatomical=False), (60.0, 120.0)),
}


def _choose(volume: Volume, seed: tuple[int, int, int]) -> str:
    modality = _modality(volume)
    if modality == "PT":
        return "pet"
    if modality != "CT":
        return "soft-tissue"
    sl = crop_slices(seed, 25.0, array_spacing(volume), volume.array.shape)
    lung = _lung_fraction(np.asarray(volume.array[sl], dtype=np.float64)) > _LUNG_FRACTION
    return "lung-nodule" if lung else "soft-tissue"


def _check_seed(volume: Volume, seed: tuple[int, int, int]) -> None:
    modality = _modality(volume)
    if modality != "CT":
        _check_seed_signal(volume, seed, modality)
        return
    if float(volume.array[seed]) > _AIR_HU:
        return
    body = volume.array[seed[0]] > _BODY_HU
    body = ndi.binary_fill_holes(body)
    if not body[seed[1], seed[2]]:
        raise InputError("the seed lies outside the body (air)", value=float(volume.array[seed]))
    raise AnalysisError("the seed lies in air inside the body (lung or bowel gas), not a lesion")


def _check_seed_signal(volume: Volume, seed: tuple[int, int, int], modality: str) -> None:
    """MR and PET: a click where there is next to no signal is outside the body."""
    sl = crop_slices(seed, 3.0, array_spacing(volume), volume.array.shape)
    local = float(np.median(volume.array[sl]))
    bright = float(np.percentile(volume.array, 99))
    if bright > 0 and local <= _NO_SIGNAL.get(modality, 0.05) * bright:
        raise InputError(
            "the seed lies outside the body (no signal there)",
            value={"seed_value": round(local, 3), "image_p99": round(bright, 3)},
        )


def _touches_border(
    mask: BoolArray, box: Slices, shape: tuple[int, ...], spacing: tuple[float, float, float]
) -> bool:
    """Whether an outline reaches the edge of its region of interest.

    The edge of the image counts only where the outline spans the image from
    side to side over :data:`_SPAN_MM` or more (the click was in tissue that
    fills the field of view, not in a lesion).
    """
    for axis, (sl, n, sp) in enumerate(zip(box, shape, spacing, strict=True)):
        first = np.take(mask, 0, axis=axis).any()
        last = np.take(mask, -1, axis=axis).any()
        if (first and sl.start > 0) or (last and sl.stop < n):
            return True
        if first and last and sl.start == 0 and sl.stop == n and n * sp >= _SPAN_MM:
            return True
    return False


@dataclass(frozen=True)
class RoiSegmentation:
    """A lesion mask on a crop of the image grid (what :func:`segment_roi` returns).

    Args:
        box: the crop, array slices ``[k, j, i]`` of the image grid.
        mask: boolean mask on that crop.
        method, quality, details: as in :class:`SegmentationResult`.
    """

    box: tuple[slice, slice, slice]
    mask: BoolArray
    method: str
    quality: str
    details: dict[str, Any]

    def full(self, shape: tuple[int, ...]) -> BoolArray:
        """The mask on the whole grid of ``shape``."""
        out = np.zeros(shape, dtype=bool)
        out[self.box] = self.mask
        return out


def segment_roi(
    volume: Volume,
    seed_mm: tuple[float, float, float],
    *,
    strategy: str | None = None,
    roi_mm: float | None = None,
) -> RoiSegmentation:
    """Like :func:`segment_at_seed`, but the mask stays on its region of interest.

    Detection calls this for hundreds of candidates, where a whole-grid mask for
    each would cost more than the segmentation itself.
    """
    seed = voxel_of_point(volume, seed_mm)
    _check_seed(volume, seed)
    name = strategy or _choose(volume, seed)
    if name not in STRATEGIES:
        raise InputError(f"unknown strategy; choose from {sorted(STRATEGIES)}", value=name)
    if name == "soft-tissue":
        # asked for by name (a lymph node, a liver lesion), it is not a lung tumour
        return _soft_tissue_roi(volume, seed, roi_mm, lung_tumour=strategy is None)
    if strategy is None and name == "lung-nodule":
        # near the lung but enveloped more by fat than by aerated lung: a node in
        # the mediastinum or hilum (or a lesion in the chest wall), not in the lung
        probe = _run(volume, seed, "soft-tissue-watershed", _PROBE_ROI_MM)
        if _fat_share_around(volume, probe) >= _lung_share_around(volume, probe):
            return _soft_tissue_roi(volume, seed, roi_mm, lung_tumour=False)
    return _run(volume, seed, name, roi_mm)


def _soft_tissue_roi(
    volume: Volume, seed: tuple[int, int, int], roi_mm: float | None, *, lung_tumour: bool
) -> RoiSegmentation:
    """The soft-tissue outline of the modality's method, or the other's if it leaked.

    An outline that leaks into a neighbour (muscle of the same signal, a vessel)
    becomes concave; a soft-tissue tumour is close to convex. Where the method of
    the modality gives an outline less convex than :data:`_MIN_SOLIDITY`, the
    other method is tried and the more convex outline kept; ``quality`` is
    ``leak`` where both are below it, and ``uncertain`` where the two outlines
    share less than :data:`_MIN_AGREEMENT` of their voxels (Dice): the image
    does not tell the lesion from its neighbour. With ``lung_tumour``, a CT
    outline with aerated lung around it is redone as a lung lesion.
    """
    ct = _modality(volume) == "CT"
    watershed = _run(volume, seed, "soft-tissue-watershed", roi_mm)
    # a large lung tumour has little air near its centre; the watershed outline,
    # which runs on to the lung around it, tells (the level set stops short of it)
    if lung_tumour and ct and _lung_share_around(volume, watershed) >= _LUNG_SHELL_SHARE:
        return _run(volume, seed, "lung-nodule", roi_mm)
    first, other = ("soft-tissue-level-set", watershed) if ct else (watershed, None)
    chosen = _run(volume, seed, first, roi_mm) if isinstance(first, str) else first
    solidity = {chosen.method: _solidity(chosen.mask)}
    agreement = None
    if solidity[chosen.method] < _MIN_SOLIDITY:
        alternative = other or _run(volume, seed, "soft-tissue-level-set", roi_mm)
        solidity[alternative.method] = _solidity(alternative.mask)
        agreement = _agreement(chosen, alternative)
        if solidity[alternative.method] > solidity[chosen.method]:
            chosen = alternative
    quality = chosen.quality
    if solidity[chosen.method] < _MIN_SOLIDITY:
        quality = "leak"
    elif quality == "ok" and agreement is not None and agreement < _MIN_AGREEMENT:
        quality = "uncertain"
    details = {
        **chosen.details,
        "outline": chosen.method,
        "solidity": {k: round(v, 3) for k, v in solidity.items()},
    }
    if agreement is not None:
        details["agreement"] = round(agreement, 3)
    return RoiSegmentation(chosen.box, chosen.mask, "soft-tissue", quality, details)


def _agreement(a: RoiSegmentation, b: RoiSegmentation) -> float:
    """Dice of two outlines on their own crops of the same grid."""
    total = int(np.count_nonzero(a.mask)) + int(np.count_nonzero(b.mask))
    lo = [max(x.start, y.start) for x, y in zip(a.box, b.box, strict=True)]
    hi = [min(x.stop, y.stop) for x, y in zip(a.box, b.box, strict=True)]
    if total == 0 or any(start >= stop for start, stop in zip(lo, hi, strict=True)):
        return 0.0
    in_a = tuple(slice(s - x.start, e - x.start) for s, e, x in zip(lo, hi, a.box, strict=True))
    in_b = tuple(slice(s - x.start, e - x.start) for s, e, x in zip(lo, hi, b.box, strict=True))
    return 2.0 * float(np.count_nonzero(a.mask[in_a] & b.mask[in_b])) / total


def _solidity(mask: BoolArray) -> float:
    """Volume of a mask over that of its convex hull (1 for a convex outline)."""
    hull = int(np.count_nonzero(_convex_hull(mask)))
    return float(np.count_nonzero(mask)) / hull if hull else 0.0


def _shell_around(volume: Volume, roi: RoiSegmentation) -> FloatArray:
    """The image values in a 1-4 mm shell around a mask."""
    dist = ndi.distance_transform_edt(~roi.mask, sampling=array_spacing(volume))
    return np.asarray(volume.array[roi.box][(dist > 1.0) & (dist <= 4.0)], dtype=np.float64)


def _lung_share_around(volume: Volume, roi: RoiSegmentation) -> float:
    """Share of aerated lung (-950..-500 HU) in a 1-4 mm shell around a mask."""
    values = _shell_around(volume, roi)
    if values.size == 0:
        return 0.0
    return float(np.mean((values > -950.0) & (values < _BODY_HU)))


def _fat_share_around(volume: Volume, roi: RoiSegmentation) -> float:
    """Share of fat (:data:`_FAT_HU`) in a 1-4 mm shell around a mask."""
    values = _shell_around(volume, roi)
    if values.size == 0:
        return 0.0
    return float(np.mean((values >= _FAT_HU[0]) & (values < _FAT_HU[1])))


def _run(
    volume: Volume, seed: tuple[int, int, int], name: str, roi_mm: float | None
) -> RoiSegmentation:
    func, sizes = STRATEGIES[name]
    if roi_mm is not None:
        sizes = (roi_mm,)
    spacing = array_spacing(volume)
    quality = "ok"
    for half in sizes:
        box = crop_slices(seed, half, spacing, volume.array.shape)
        values = np.asarray(volume.array[box], dtype=np.float64)
        local = (seed[0] - box[0].start, seed[1] - box[1].start, seed[2] - box[2].start)
        sub, details = func(_Context(values, local, spacing, _modality(volume)))
        if not sub.any():
            raise AnalysisError("nothing could be segmented at the seed", value=list(seed))
        quality = "leak" if _touches_border(sub, box, volume.array.shape, spacing) else "ok"
        if quality == "ok":
            break
    details["roi_half_mm"] = half
    log.debug("segmented %d voxels with %s (%s)", int(sub.sum()), name, quality)
    return RoiSegmentation(box, sub, name, quality, details)


def segment_at_seed(
    volume: Volume,
    seed_mm: tuple[float, float, float],
    *,
    strategy: str | None = None,
    roi_mm: float | None = None,
) -> SegmentationResult:
    """Segment the lesion under a clicked point.

    Args:
        volume: CT (HU), MR or PET (SUV) image; ``metadata["modality"]`` picks the
            strategy (CT is recognised by its HU range where metadata is absent).
        seed_mm: the click, LPS millimetres.
        strategy: force one of :data:`STRATEGIES`.
        roi_mm: try only this half-size of region of interest (mm), not the
            strategy's growing series.

    Raises:
        InputError: the seed lies outside the image or, on CT, outside the body.
        AnalysisError: nothing to segment at the seed.
    """
    roi = segment_roi(volume, seed_mm, strategy=strategy, roi_mm=roi_mm)
    full = roi.full(volume.array.shape)
    return SegmentationResult(volume.with_array(full), roi.method, roi.quality, roi.details)


def mask_from_volume(volume: Volume, mask: Volume) -> SegmentationResult:
    """Accept a given mask (from NIfTI, SEG or RTSTRUCT, read by ``radcycle.io``).

    Raises:
        GeometryError: the mask is not on the image's grid or does not overlap it.
        AnalysisError: the mask is empty.
    """
    arr = check_mask_matches(volume, mask)
    return SegmentationResult(volume.with_array(arr), "given")
