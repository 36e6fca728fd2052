"""Outline methods on a region of interest around a click.

:mod:`radcycle.imaging.segmentation` chooses among these methods and runs them
on growing regions of interest; each takes an :class:`OutlineContext` (the
region's values, the click in it, the voxel spacing, the modality) and returns
a boolean mask of the region with the details of how it was made:

* :func:`lung_nodule_outline`: threshold, neck-cutting watershed
  (:mod:`radcycle.imaging.necks`), vessel opening, regrowth of a large
  tumour's rim, part-solid halo;
* :func:`level_set_outline` and :func:`watershed_outline`: soft tissue on CT
  and MR (:func:`soft_tissue_outline` picks the modality's);
* :func:`pet_outline`: the anatomical (convex hull) or EANM metabolic outline.

docs/lesions.md gives the methods, the data their parameters were chosen on
and the figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk
from scipy import ndimage as ndi
from skimage import segmentation as skseg

from radcycle.errors import AnalysisError
from radcycle.imaging.hu import AERATED_LUNG_HU, BODY_HU, FAT_HU, SOFT_TISSUE_HU, SOLID_HU
from radcycle.imaging.inputs import modality_of
from radcycle.imaging.masks import (
    BoolArray,
    ball,
    component_at,
    convex_hull,
    crop_slices,
    distance_mm,
)
from radcycle.imaging.necks import split_necks
from radcycle.imaging.segmentation_settings import OutlineSettings

__all__ = [
    "BODY_HU",
    "BRIGHT_CONTRAST",
    "DEFAULT_OUTLINE_SETTINGS",
    "FAT_HU",
    "RUNS_ON",
    "OutlineContext",
    "bright_contrast",
    "bright_outline",
    "carry_merged_slices",
    "fill_soft_concavities",
    "level_set_outline",
    "lung_fraction",
    "lung_nodule_outline",
    "modality_of",
    "open_off_vessels",
    "pet_outline",
    "soft_tissue_outline",
    "watershed_outline",
]

FloatArray = npt.NDArray[np.float64]

# Key of an outline's details that says the lesion may run on beyond the region
# of interest (a lobe joined to it reaches the region's edge): try a larger one.
RUNS_ON = "runs_on"
#: The default thresholds (docs/lesions.md gives the data each was chosen on).
DEFAULT_OUTLINE_SETTINGS = OutlineSettings()
#: On MR, a lesion this many noise SDs brighter than its region is outlined as
#: a bright lesion (:attr:`OutlineSettings.bright_contrast`).
BRIGHT_CONTRAST = DEFAULT_OUTLINE_SETTINGS.bright_contrast


@dataclass(frozen=True)
class OutlineContext:
    """What an outline method works on.

    Args:
        values: the image values of the region of interest, indexed ``[k, j, i]``.
        seed: the click's voxel inside the region.
        spacing: voxel size (mm) along ``(k, j, i)``.
        modality: ``CT``, ``MR``, ``PT``, ...
    """

    values: FloatArray
    seed: tuple[int, int, int]
    spacing: tuple[float, float, float]
    modality: str = "CT"
    settings: OutlineSettings = field(default_factory=OutlineSettings)


def _seed_value(ctx: OutlineContext, radius_mm: float = 1.5) -> float:
    sl = crop_slices(ctx.seed, radius_mm, ctx.spacing, ctx.values.shape)
    return float(np.median(ctx.values[sl]))


def _column_peak(ctx: OutlineContext) -> float:
    """The densest 3x3-pixel mean at the click's position on its slice and the two
    beside it: a small solid nodule clicked on a slice it only grazes is partial
    volume there (ground-glass HU) but solid on the next."""
    k, j, i = ctx.seed
    rows = slice(max(j - 1, 0), j + 2)
    cols = slice(max(i - 1, 0), i + 2)
    slices = range(max(k - 1, 0), min(k + 2, ctx.values.shape[0]))
    return max(float(np.mean(ctx.values[kk, rows, cols])) for kk in slices)


def lung_fraction(values: FloatArray) -> float:
    """Share of aerated lung (:data:`~radcycle.imaging.hu.AERATED_LUNG_HU`, ends
    excluded; outside air is below it) in ``values``."""
    lo, hi = AERATED_LUNG_HU
    return float(np.mean((values > lo) & (values < hi)))


def lung_nodule_outline(ctx: OutlineContext) -> tuple[BoolArray, dict[str, Any]]:
    """A lung lesion: threshold, neck-cutting watershed, vessel opening, regrowth.

    Solid lesions are cut at :attr:`OutlineSettings.lung_solid_edge_hu`, subsolid ones half-way
    to the parenchyma; a solid core in a ground-glass halo is regrown at the
    halo's own level (part-solid).

    Raises:
        AnalysisError: the click is in aerated lung, not in a lesion.
    """
    seed_hu = _seed_value(ctx)
    smooth = ndi.gaussian_filter(ctx.values, sigma=[0.6 / s for s in ctx.spacing])
    around = ctx.values[crop_slices(ctx.seed, 20.0, ctx.spacing, ctx.values.shape)]
    parenchyma = float(np.median(around[around < BODY_HU])) if (around < BODY_HU).any() else -850
    if seed_hu < parenchyma + ctx.settings.min_nodule_contrast_hu:
        raise AnalysisError(
            "no nodule at the seed: it lies in aerated lung", value=round(seed_hu, 1)
        )
    peak = _column_peak(ctx)
    solid = max(seed_hu, peak) > SOLID_HU
    threshold = 0.5 * (seed_hu + parenchyma)  # subsolid: half-way to the lung
    if solid:
        threshold = ctx.settings.lung_solid_edge_hu
        if peak < SOFT_TISSUE_HU:
            # a small solid nodule blurred below soft tissue: its edge is at half
            # its own contrast (half maximum), below the conventional level
            threshold = min(threshold, 0.5 * (peak + parenchyma))
    mask, runs_on = _grow_nodule(ctx, smooth > threshold)
    details = {"threshold_hu": round(threshold, 1), "seed_hu": round(seed_hu, 1)}
    halo, share = _halo(mask, ctx, parenchyma)
    if solid and share >= ctx.settings.halo_share:
        # a solid core in a ground-glass halo (part-solid): outline the whole nodule
        threshold = 0.5 * (halo + parenchyma)
        whole, more = _grow_nodule(ctx, smooth > threshold)
        mask, runs_on = mask | whole, runs_on or more
        details.update(threshold_hu=round(threshold, 1), halo_hu=round(halo, 1))
    mask, carried = carry_merged_slices(mask, smooth, ctx.settings)
    if carried:
        details["carried_mm3"] = round(carried * float(np.prod(ctx.spacing)))
    mask, filled = fill_soft_concavities(mask, smooth, ctx.seed)
    if filled:
        details["concavity_fill_mm3"] = round(filled * float(np.prod(ctx.spacing)))
    if runs_on:
        details[RUNS_ON] = True
    return mask, details


def carry_merged_slices(
    mask: BoolArray, values: FloatArray, settings: OutlineSettings = DEFAULT_OUTLINE_SETTINGS
) -> tuple[BoolArray, int]:
    """Carry a lung lesion's outline onto the slices where it merges with an organ.

    A tumour that runs into the diaphragm, the liver below it or the chest wall
    at the same density has no edge there, and the neck-cutting watershed gives
    the merged part to the organ: the outline shrinks abruptly on those slices
    while the soft tissue goes on. Walking out from the widest slice, a slice
    whose outline is smaller than :attr:`OutlineSettings.carry_shrink` of the one before it,
    and whose soft tissue (above :data:`~radcycle.imaging.hu.SOFT_TISSUE_HU`) covers at least
    :attr:`OutlineSettings.carry_cover` of that one, takes that footprint's soft tissue. The
    outline gains no slice. Returns the mask and the voxels added.
    """
    out = mask.copy()
    areas = out.sum(axis=(1, 2))
    if not areas.any():
        return out, 0
    widest = int(np.argmax(areas))
    for step in (-1, 1):
        k = widest + step
        while 0 <= k < out.shape[0] and out[k].any():
            before = out[k - step]
            footprint = before & (values[k] > SOFT_TISSUE_HU)
            size = float(before.sum())
            shrunk = out[k].sum() < settings.carry_shrink * size
            if shrunk and footprint.sum() >= settings.carry_cover * size:
                out[k] |= footprint
            k += step
    return out, int(out.sum() - mask.sum())


def fill_soft_concavities(
    mask: BoolArray, values: FloatArray, seed: tuple[int, int, int]
) -> tuple[BoolArray, int]:
    """Add the soft tissue in a lung lesion's concavities (inside its convex hull).

    Where a lesion abuts the chest wall, diaphragm or mediastinum, the neck cut
    can give part of it to the structure it abuts, leaving a bay in the outline;
    the soft tissue (above :data:`~radcycle.imaging.hu.SOFT_TISSUE_HU`) in that bay is the lesion.
    Aerated lung and fat in a bay stay out. Returns the mask and the voxels added.
    """
    concave = convex_hull(mask) & ~mask & (values > SOFT_TISSUE_HU)
    if not concave.any():
        return mask, 0
    grown = component_at(mask | concave, seed)
    return grown, int(grown.sum() - mask.sum())


def _grow_nodule(ctx: OutlineContext, above: BoolArray) -> tuple[BoolArray, bool]:
    """The nodule in the region ``above`` its threshold, and whether it may run
    on beyond the region of interest (:func:`radcycle.imaging.necks.split_necks`)."""
    region = component_at(above, ctx.seed)
    if not region.any():
        raise AnalysisError("no nodule at the seed: it lies in aerated lung")
    lobe, runs_on = split_necks(region, ctx.seed, ctx.spacing)
    mask = lobe
    depth = float(distance_mm(mask, ctx.spacing)[ctx.seed])
    mask = open_off_vessels(mask, ctx.seed, ctx.spacing, ctx.settings)
    reach = ctx.settings.regrow_fraction * depth
    if reach >= min(ctx.spacing):  # small nodules: nothing within reach
        near = distance_mm(~mask, ctx.spacing) <= reach
        mask = mask | (region & near & ~lobe)  # not the vessels opened off
    return _fill_holes(mask), runs_on


def open_off_vessels(
    mask: BoolArray,
    seed: tuple[int, int, int],
    spacing: tuple[float, float, float],
    settings: OutlineSettings = DEFAULT_OUTLINE_SETTINGS,
) -> BoolArray:
    """A nodule outline without the vessels leaving it.

    The outline is opened with a ball of :attr:`OutlineSettings.open_fraction` of its depth at
    ``seed`` (1-4 mm) and the part holding ``seed`` kept; where the opening
    loses ``seed`` (a nodule thinner than the ball) the outline stays as it was.
    """
    depth = float(distance_mm(mask, spacing)[seed])
    radius = float(np.clip(settings.open_fraction * depth, 1.0, 4.0))
    opened = ndi.binary_opening(mask, structure=ball(radius, spacing))
    return component_at(opened, seed) if opened[seed] else mask


def _halo(mask: BoolArray, ctx: OutlineContext, parenchyma: float) -> tuple[float, float]:
    """Ground-glass around a mask: its median HU and its share of a 1-3 mm shell.

    The shell starts beyond the partial-volume rim; ground-glass there is denser
    than the lung by :attr:`OutlineSettings.min_nodule_contrast_hu` but below solid (-300 HU), so
    the chest wall and vessels do not count.
    """
    near = distance_mm(~mask, ctx.spacing)
    values = ctx.values[(near > 1.0) & (near <= 3.0)]
    if values.size == 0:
        return -1000.0, 0.0
    glass = (values >= parenchyma + ctx.settings.min_nodule_contrast_hu) & (values < SOLID_HU)
    share = float(glass.mean())
    return (float(np.median(values[glass])) if glass.any() else -1000.0), share


def _fill_holes(mask: BoolArray) -> BoolArray:
    """Fill holes in 3D, then slice by slice (cavities open at the lesion's ends)."""
    out = np.asarray(ndi.binary_fill_holes(mask), dtype=bool)
    for k in np.flatnonzero(out.any(axis=(1, 2))):
        out[k] = ndi.binary_fill_holes(out[k])
    return out


def soft_tissue_outline(ctx: OutlineContext) -> tuple[BoolArray, dict[str, Any]]:
    """The soft-tissue method of the image's modality (:data:`_SOFT_TISSUE_METHOD`)."""
    return _SOFT_TISSUE_METHOD.get(ctx.modality, watershed_outline)(ctx)


def _near_click(values: FloatArray, ctx: OutlineContext, radius_mm: float) -> FloatArray:
    """The values in a ball of ``radius_mm`` around the click."""
    box = crop_slices(ctx.seed, radius_mm, ctx.spacing, ctx.values.shape)
    axes = [
        (np.arange(sl.start, sl.stop) - c) * sp
        for sl, c, sp in zip(box, ctx.seed, ctx.spacing, strict=True)
    ]
    k, j, i = np.meshgrid(*axes, indexing="ij", sparse=True)
    inside = k**2 + j**2 + i**2 <= radius_mm**2 + 1e-9
    return np.asarray(values[box][inside], dtype=np.float64)


def _noise_sd(values: FloatArray, ctx: OutlineContext) -> float:
    """Noise SD from in-plane neighbour differences in the box around the click.

    Differences of neighbours cancel what is smooth, and their median ignores the
    few pairs that straddle an edge, so a small lesion's surroundings (the fat
    around a lymph node) do not widen the estimate as they do a plain spread.
    """
    core_mm = ctx.settings.soft_tissue_scales(ctx.modality)[0]
    box = values[crop_slices(ctx.seed, core_mm, ctx.spacing, ctx.values.shape)]
    diffs = np.concatenate([np.diff(box, axis=2).ravel(), np.diff(box, axis=1).ravel()])
    if diffs.size == 0:
        return 1e-6
    return max(1.4826 * float(np.median(np.abs(diffs))) / float(np.sqrt(2.0)), 1e-6)


def _sitk_image(array: FloatArray, spacing: tuple[float, float, float]) -> sitk.Image:
    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.SetSpacing((spacing[2], spacing[1], spacing[0]))  # SimpleITK orders (x, y, z)
    return image


def level_set_outline(ctx: OutlineContext) -> tuple[BoolArray, dict[str, Any]]:
    """Threshold level set from a ball at the click, stopped where its front stalls."""
    smooth = ndi.median_filter(ctx.values, size=3)
    # the window: centred on the filtered image near the click, as wide as the
    # noise of the unfiltered one (the front then passes the residual noise of the
    # filtered image it moves on) and the texture of a lesion
    centre = float(np.median(_near_click(smooth, ctx, ctx.settings.window_centre_mm)))
    spread = ctx.settings.texture_factor * _noise_sd(ctx.values, ctx)
    floor = ctx.settings.level_set_min_half_hu if ctx.modality == "CT" else 0.0  # HU: CT only
    half = max(ctx.settings.level_set_k * spread, floor)
    lo, hi = centre - half, centre + half
    click = np.zeros(ctx.values.shape, dtype=bool)
    click[ctx.seed] = True
    dist = distance_mm(~click, ctx.spacing)
    level = _sitk_image(dist - ctx.settings.level_set_radius_mm, ctx.spacing)
    feature = _sitk_image(smooth, ctx.spacing)
    grow = sitk.ThresholdSegmentationLevelSetImageFilter()
    grow.SetLowerThreshold(lo)
    grow.SetUpperThreshold(hi)
    grow.SetMaximumRMSError(0.0)  # steps of fixed length; the stop rule is below
    grow.SetNumberOfIterations(ctx.settings.level_set_step)
    voxel = float(np.prod(ctx.spacing))
    mask = np.asarray(dist <= ctx.settings.level_set_radius_mm, dtype=bool)
    fastest = 0.0
    for step in range(ctx.settings.level_set_max_steps):
        level = grow.Execute(level, feature)
        grown = np.asarray(sitk.GetArrayFromImage(level) < 0, dtype=bool)
        grown = component_at(grown, ctx.seed) if grown[ctx.seed] else grown
        # surface area: the volume of a 3 mm shell outside the outline over 3 mm
        outside = distance_mm(~grown, ctx.spacing)
        surface = float(np.count_nonzero((outside > 0) & (outside <= 3.0))) * voxel / 3.0
        advance = float(grown.sum() - mask.sum()) * voxel / max(surface, voxel)
        mask = grown
        if step == 0:  # the first step also reshapes the starting ball
            continue
        fastest = max(fastest, advance)
        if advance < ctx.settings.level_set_stop * fastest:
            break
    mask = np.asarray(ndi.binary_fill_holes(mask), dtype=bool)
    mask, edge = _to_half_way(mask, ctx, smooth, (lo, hi), spread / ctx.settings.texture_factor)
    details: dict[str, Any] = {
        "window": [round(float(lo), 2), round(float(hi), 2)],
        "level_set_steps": step + 1,
    }
    if edge is not None:
        details["edge"] = round(edge, 2)
    return mask, details


def _to_half_way(
    mask: BoolArray,
    ctx: OutlineContext,
    smooth: FloatArray,
    window: tuple[float, float],
    noise: float,
) -> tuple[BoolArray, float | None]:
    """Move an outline out to the half-way level of its edge, where there is one.

    The level set stops where the blurred edge leaves the window, inside the
    lesion; the edge of a blurred step is half-way between the two sides. Where
    the tissue around the outline differs from the lesion by more than
    :attr:`OutlineSettings.edge_contrast` noise SDs, the voxels of the transition (between
    that half-way level and the window) within :attr:`OutlineSettings.edge_reach_mm` of the
    outline join it. Returns the outline and the half-way level (None: no edge).
    """
    outside = distance_mm(~mask, ctx.spacing)
    inside = distance_mm(mask, ctx.spacing)
    core, around = smooth[inside > 1.0], smooth[(outside > 2.0) & (outside <= 4.0)]
    if core.size == 0 or around.size == 0:
        return mask, None
    lesion, tissue = float(np.median(core)), float(np.median(around))
    if abs(lesion - tissue) < ctx.settings.edge_contrast * noise:
        return mask, None
    half = 0.5 * (lesion + tissue)
    lo, hi = window
    band = (smooth >= half) & (smooth < lo) if tissue < lesion else (smooth > hi) & (smooth <= half)
    grown = mask | (band & (outside > 0) & (outside <= ctx.settings.edge_reach_mm))
    return component_at(grown, ctx.seed), half


def watershed_outline(ctx: OutlineContext) -> tuple[BoolArray, dict[str, Any]]:
    """Marker watershed on the gradient: the click's window against what is outside it."""
    smooth = ndi.median_filter(ctx.values, size=3)
    core_mm, edge_mm = ctx.settings.soft_tissue_scales(ctx.modality)
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
    opening = ball(ctx.settings.soft_open_mm, ctx.spacing)
    mask = ndi.binary_opening(mask, structure=opening) | seed_ball & inside
    mask = component_at(mask, ctx.seed) if mask[ctx.seed] else mask
    mask = ndi.binary_fill_holes(mask)
    return mask, {"window": [round(lo, 2), round(hi, 2)]}


def _bright_levels(ctx: OutlineContext, smooth: FloatArray) -> tuple[float, float]:
    """The region's median and the lesion's peak near the click (90th percentile
    within :attr:`OutlineSettings.bright_peak_mm`), on the median-filtered image."""
    peak = float(np.percentile(_near_click(smooth, ctx, ctx.settings.bright_peak_mm), 90))
    return float(np.median(smooth)), peak


def bright_contrast(ctx: OutlineContext, smooth: FloatArray | None = None) -> float:
    """How far the lesion's peak near the click stands above the region's
    median, in noise SDs (see :data:`BRIGHT_CONTRAST`)."""
    if smooth is None:
        smooth = ndi.median_filter(ctx.values, size=3)
    background, peak = _bright_levels(ctx, smooth)
    return (peak - background) / _noise_sd(ctx.values, ctx)


def bright_outline(ctx: OutlineContext) -> tuple[BoolArray, dict[str, Any]]:
    """A bright lesion: above half-way from the region's median to its peak, hulled.

    The bright region holding the click is the lesion; where the click falls
    on a darker part of it (necrosis, a non-enhancing part), the bright
    regions within :attr:`OutlineSettings.bright_peak_mm` of it are. ``details["solidity"]``
    is the convexity of what was above the level before the hull: a low one
    means the hull holds more than lesion.
    """
    smooth = ndi.median_filter(ctx.values, size=3)
    background, peak = _bright_levels(ctx, smooth)
    level = background + ctx.settings.bright_fraction * (peak - background)
    region = _bright_region(smooth >= level, ctx)
    if _on_box_edge(region):
        # joined to a bright neighbour that runs on (fat, the scalp, a vessel):
        # the bridges are opened off, unless nothing of the lesion is left then
        opening = ball(ctx.settings.soft_open_mm, ctx.spacing)
        opened = ndi.binary_opening(smooth >= level, structure=opening)
        reopened = _bright_region(opened, ctx)
        region = reopened if reopened.any() else region
    if not region.any():
        return region, {"level": round(level, 2)}
    hull = convex_hull(region)
    details: dict[str, Any] = {
        "level": round(level, 2),
        "contrast": round(bright_contrast(ctx, smooth), 2),
        "solidity": round(float(np.count_nonzero(region)) / max(1, int(np.count_nonzero(hull))), 3),
    }
    return hull, details


def _bright_region(above: BoolArray, ctx: OutlineContext) -> BoolArray:
    """The bright region holding the click, or those within
    :attr:`OutlineSettings.bright_peak_mm` of it, holes filled."""
    if above[ctx.seed]:
        return _fill_holes(component_at(above, ctx.seed))
    labels, _ = ndi.label(above)
    near = np.zeros(above.shape, dtype=bool)
    near[crop_slices(ctx.seed, ctx.settings.bright_peak_mm, ctx.spacing, above.shape)] = True
    hits = np.unique(labels[near & above])
    return _fill_holes(np.isin(labels, hits[hits > 0]))


def _on_box_edge(mask: BoolArray) -> bool:
    """Whether a mask reaches a face of its box."""
    return any(np.take(mask, end, axis=axis).any() for axis in range(mask.ndim) for end in (0, -1))


#: Soft-tissue method per modality (MR and others: the gradient watershed).
_SOFT_TISSUE_METHOD: dict[str, Callable[[OutlineContext], tuple[BoolArray, dict[str, Any]]]] = {
    "CT": level_set_outline,
}


def pet_outline(
    ctx: OutlineContext, *, anatomical: bool = True
) -> tuple[BoolArray, dict[str, Any]]:
    """PET outline: the anatomical tumour (default) or the EANM metabolic volume.

    The anatomical outline is the convex hull of the uptake above
    :attr:`OutlineSettings.pet_fraction`: a necrotic core whose hot rim is open on a side (a
    C-shaped ring), which no hole filling closes, is then part of the tumour.
    """
    fraction = ctx.settings.pet_fraction if anatomical else ctx.settings.pet_metabolic_fraction
    near = crop_slices(ctx.seed, 15.0, ctx.spacing, ctx.values.shape)
    suv_max = float(ctx.values[near].max())
    background = float(np.median(ctx.values))
    threshold = background + fraction * (suv_max - background)
    region = ctx.values >= threshold
    labels, _ = ndi.label(region)
    hits = np.unique(labels[near][ctx.values[near] >= threshold])
    mask = _fill_holes(np.isin(labels, hits[hits > 0]))  # closed necrotic cores
    if anatomical:
        mask = convex_hull(mask)
    return mask, {"suv_max": round(suv_max, 3), "threshold": round(threshold, 3)}
