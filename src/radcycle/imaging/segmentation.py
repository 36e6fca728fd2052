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
  other method's outline is kept if it is more convex. On MR a lesion far
  brighter than its region (an enhancing lesion; :data:`BRIGHT_CONTRAST`
  noise SDs above the region's median near the click) is outlined by
  ``soft-tissue-bright`` instead: above half-way from that median to the
  lesion's peak, holes filled, and the 3D convex hull, so that non-enhancing
  and necrotic parts are inside.
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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.errors import AnalysisError, InputError, RadcycleError
from radcycle.imaging.blobs import Blob, blob_at, distances_from
from radcycle.imaging.inputs import require_finite, require_mm_geometry
from radcycle.imaging.masks import (
    BoolArray,
    array_spacing,
    check_mask_matches,
    crop_slices,
    distance_mm,
    solidity,
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

from radcycle.imaging.outlines import (
    BODY_HU,
    BRIGHT_CONTRAST,
    FAT_HU,
    RUNS_ON,
    OutlineContext,
    bright_contrast,
    bright_outline,
    level_set_outline,
    lung_fraction,
    lung_nodule_outline,
    modality_of,
    pet_outline,
    soft_tissue_outline,
    watershed_outline,
)

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Slices = tuple[slice, slice, slice]

# Below this a CT voxel is air (HU); the body outline is drawn at BODY_HU.
_AIR_HU = -900.0
# MR and PET: a click whose surroundings hold less than this share of the image's
# 99th percentile is in the air around the body.
_NO_SIGNAL: dict[str, float] = {"MR": 0.05, "PT": 0.02}
# A soft-tissue outline less convex than this (volume over convex-hull volume)
# has leaked into a neighbour: the reference GTVs of the sarcoma series have
# 0.89-0.98, the outlines that leaked 0.61-0.74 and the others 0.84-0.98
# (docs/lesions.md); any value between 0.75 and 0.84 separates them.
_MIN_SOLIDITY = 0.8
# A bright lesion's outline on MR (its hull) where less than this share of the
# hull was bright is flagged "uncertain": the hull then holds more than the
# lesion (brain1 and breast1 give 0.59-1.0 from every click; a bright region
# that ran into brain1's scalp, before its bridges were opened, 0.27).
_BRIGHT_MIN_SOLIDITY = 0.4
# Where it has, and the two methods' outlines share less than this (Dice), the
# outline kept is flagged "uncertain".
_MIN_AGREEMENT = 0.5
# An outline that spans the whole image along an axis this long (mm) or longer
# is tissue filling the field of view, not a lesion.
_SPAN_MM = 30.0
# The watershed outline that tells a node beside the lung from a lung lesion is
# drawn in a region of this half-size (mm): nodes are under 30 mm.
_PROBE_ROI_MM = 25.0
# Fat on CT (FAT_HU): mediastinal and chest-wall fat is about -100; aerated lung
# lies between outside air (below -950) and the body outline.
_LUNG_HU = (-950.0, BODY_HU)
# Lung lesions: the fraction of aerated-lung voxels (-950..-500 HU; outside air is
# below -950) within 25 mm of the click above which the lung strategy is used.
_LUNG_FRACTION = 0.15
# A soft-tissue outline on CT with this share of aerated lung around it is a lung
# tumour after all (e.g. a large mass with consolidation): it is redone as one.
_LUNG_SHELL_SHARE = 0.1
# A blob of more than this radius (mm) under a click is a large tumour: the lung
# around it is sought beyond its edge, and its region of interest starts at
# _ROI_PER_RADIUS times its radius (a lesion wider than the region is cut into
# lobes at the region's edge).
_LARGE_BLOB_MM = 10.0
_ROI_PER_RADIUS = 2.0
# An outline from a click in a large blob holding less than this share of the
# blob's sphere is a part of the tumour: it is redone from the blob's centre.
_MIN_BLOB_SHARE = 0.25
# A lung tumour wider than the click's blob (a bump of its surface) is found
# up the larger scales: the outline from a larger blob's centre is tried where
# the outline so far holds under _LADDER_SHARE of that blob's sphere, and kept
# where it holds the click and at least _LADDER_HOLD of the outline so far
# (chosen on PAT1, an 88 mm tumour wider than the largest scale's 70 mm).
_LADDER_SHARE = 0.5
_LADDER_HOLD = 0.5
# ... and the share of aerated lung around it must be at least this much of the
# share around the click's outline (on PAT1 it rises, 0.13-0.34 to 0.35; taking
# in a chest wall of the same density, it falls, 0.84-0.91 to 0.63-0.70).
_LADDER_LUNG = 0.9
# A soft-tissue outline (from a click that the probe took for a node) climbs the
# larger blobs too where less than this share of fat lies around it: it is then
# a part of a larger mass (PAT1: 0.002-0.12), not a node in its fat (the
# synthetic nodes: 0.73-0.92).
_LADDER_FAT = 0.3


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


Strategy = Callable[[OutlineContext], tuple[BoolArray, dict[str, Any]]]

# Outlines use gradients and openings across slices: fewer voxels than this
# along an axis is not a volume to outline in.
_MIN_SLICES = 3

#: Strategy per name, each with the ROI half-sizes (mm) it tries, smallest first.
STRATEGIES: dict[str, tuple[Strategy, tuple[float, ...]]] = {
    "lung-nodule": (lung_nodule_outline, (30.0, 60.0, 100.0)),
    "soft-tissue": (soft_tissue_outline, (60.0, 100.0)),
    "soft-tissue-level-set": (level_set_outline, (60.0, 100.0)),
    "soft-tissue-watershed": (watershed_outline, (60.0, 100.0)),
    "soft-tissue-bright": (bright_outline, (60.0, 100.0)),
    "pet": (pet_outline, (60.0, 120.0)),
    "pet-41": (lambda ctx: pet_outline(ctx, anatomical=False), (60.0, 120.0)),
}


def _choose(volume: Volume, seed: tuple[int, int, int], blob: Blob | None = None) -> str:
    """The strategy for a click: by modality, and on CT by the lung around it.

    Lung around means more than :data:`_LUNG_FRACTION` of aerated lung within
    25 mm of the click, or for a blob of more than :data:`_LARGE_BLOB_MM` radius
    (a large tumour, whose inside holds no lung) in the 15 mm beyond its edge.
    """
    modality = modality_of(volume)
    if modality == "PT":
        return "pet"
    if modality != "CT":
        return "soft-tissue"
    spacing = array_spacing(volume)
    if blob is not None and blob.radius_mm > _LARGE_BLOB_MM:
        outer = blob.radius_mm + 15.0
        sl = crop_slices(blob.centre, outer, spacing, volume.array.shape)
        reach = distances_from([np.arange(x.start, x.stop) for x in sl], blob.centre, spacing)
        shell = (reach > blob.radius_mm) & (reach <= outer)
        values = np.asarray(volume.array[sl], dtype=np.float64)[shell]
    else:
        values = np.asarray(volume.array[crop_slices(seed, 25.0, spacing, volume.array.shape)])
    lung = lung_fraction(np.asarray(values, dtype=np.float64)) > _LUNG_FRACTION
    return "lung-nodule" if lung else "soft-tissue"


def _check_seed(volume: Volume, seed: tuple[int, int, int]) -> None:
    modality = modality_of(volume)
    if modality != "CT":
        _check_seed_signal(volume, seed, modality)
        return
    if float(volume.array[seed]) > _AIR_HU:
        return
    body = volume.array[seed[0]] > BODY_HU
    body = ndi.binary_fill_holes(body)
    if not body[seed[1], seed[2]]:
        # air that reaches the image's edge: around the body, or lung air where
        # the field of view cuts through the chest
        raise InputError(
            "the seed lies in air outside the body (or lung air the image's edge cuts)",
            value=float(volume.array[seed]),
        )
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
    each would cost more than the segmentation itself. A click on CT with
    neither ``strategy`` nor ``roi_mm`` is a reader's, anywhere in the lesion:
    the blob under it (:func:`blob_at`) helps choose the strategy and the
    region, and where the outline from the click holds under
    :data:`_MIN_BLOB_SHARE` of a large blob's sphere, the outline from the
    blob's centre (or for a lung tumour, a larger blob's) is kept if it holds
    the click and is larger (:func:`_recentred`; ``details["recentred_from"]``
    then gives the click's voxel).
    """
    seed = voxel_of_point(volume, seed_mm)
    _check_seed(volume, seed)
    if strategy is not None and strategy not in STRATEGIES:
        raise InputError(f"unknown strategy; choose from {sorted(STRATEGIES)}", value=strategy)
    if strategy is not None or roi_mm is not None or modality_of(volume) != "CT":
        return _outline_at(volume, seed, strategy, roi_mm, None)
    blob = blob_at(volume, seed)
    first = _outline_at(volume, seed, None, None, blob)
    if blob is None or blob.radius_mm <= _LARGE_BLOB_MM:
        return first
    best = _recentred(volume, seed, first, blob)
    if best is not first:
        best.details["recentred_from"] = [int(x) for x in seed]
    return best


def _recentred(
    volume: Volume, seed: tuple[int, int, int], first: RoiSegmentation, blob: Blob
) -> RoiSegmentation:
    """A click off the centre of a large tumour, outlined as a small part of it:
    the outline from the centre of its blob, or for a lung tumour of a larger
    one (a tumour wider than the click's scale), where it holds the click and
    half of the outline so far, and is larger. Beside the mediastinum a larger
    blob is the mediastinum or the heart, so larger blobs are for lung tumours
    alone (a lung-lesion outline, or a soft-tissue one with little fat around
    it, :data:`_LADDER_FAT`), and what their centres give must be more of one
    (:func:`_more_of_a_lung_tumour`)."""
    voxel = float(np.prod(array_spacing(volume)))
    best = first
    lung = first.method == "lung-nodule" or (
        first.method == "soft-tissue" and _shares_around(volume, first, FAT_HU)[0] < _LADDER_FAT
    )
    for candidate in (blob, *(blob.larger if lung else ())):
        sphere = 4.0 / 3.0 * np.pi * candidate.radius_mm**3
        share = _MIN_BLOB_SHARE if candidate is blob else _LADDER_SHARE
        if np.count_nonzero(best.mask) * voxel >= share * sphere:
            continue
        try:
            second = _outline_at(volume, candidate.centre, None, None, candidate)
        except RadcycleError:
            continue
        if not _holds(second, seed) or second.quality != "ok":
            continue
        if candidate is not blob and not _more_of_a_lung_tumour(volume, first, second):
            continue
        size = int(np.count_nonzero(best.mask))
        held = _overlap(best, second) / max(size, 1)
        if np.count_nonzero(second.mask) > size and held >= _LADDER_HOLD:
            best = second
    return best


def _outline_at(
    volume: Volume,
    seed: tuple[int, int, int],
    strategy: str | None,
    roi_mm: float | None,
    blob: Blob | None,
) -> RoiSegmentation:
    """The outline at ``seed`` by ``strategy``, or by the one chosen there."""
    name = strategy or _choose(volume, seed, blob)
    large = blob is not None and blob.radius_mm > _LARGE_BLOB_MM
    min_roi = _ROI_PER_RADIUS * blob.radius_mm if blob is not None and large else 0.0
    if name == "soft-tissue":
        # asked for by name (a lymph node, a liver lesion), it is not a lung tumour
        return _soft_tissue_roi(volume, seed, roi_mm, lung_tumour=strategy is None, min_roi=min_roi)
    if strategy is None and name == "lung-nodule":
        # near the lung but enveloped more by fat than by aerated lung: a node in
        # the mediastinum or hilum (or a lesion in the chest wall), not in the lung;
        # inside a large tumour the probe may not reach its edge (next to no fat
        # or lung around it), and the soft-tissue outline's surroundings tell
        probe = _run(volume, seed, "soft-tissue-watershed", _PROBE_ROI_MM)
        fat, lung = _shares_around(volume, probe, FAT_HU, _LUNG_HU)
        if fat >= lung:
            unsure = large and fat < _LUNG_SHELL_SHARE
            return _soft_tissue_roi(volume, seed, roi_mm, lung_tumour=unsure, min_roi=min_roi)
    return _run(volume, seed, name, roi_mm, min_roi)


def _soft_tissue_roi(
    volume: Volume,
    seed: tuple[int, int, int],
    roi_mm: float | None,
    *,
    lung_tumour: bool,
    min_roi: float = 0.0,
) -> RoiSegmentation:
    """The soft-tissue outline of the modality's method, or the other's if it leaked.

    An outline that leaks into a neighbour (muscle of the same signal, a vessel)
    becomes concave; a soft-tissue tumour is close to convex. Where the method of
    the modality gives an outline less convex than :data:`_MIN_SOLIDITY`, the
    other method is tried and the more convex outline kept; ``quality`` is
    ``leak`` where both are below it, and ``uncertain`` where the two outlines
    share less than :data:`_MIN_AGREEMENT` of their voxels (Dice): the image
    does not tell the lesion from its neighbour. On MR, a lesion far brighter
    than its region (:data:`BRIGHT_CONTRAST`) is outlined by
    :func:`bright_outline` instead. With ``lung_tumour``, a CT
    outline with aerated lung around it is redone as a lung lesion, on regions
    of interest of at least ``min_roi`` mm half-size.
    """
    ct = modality_of(volume) == "CT"
    if not ct and bright_contrast(_context(volume, seed, roi_mm or 60.0)) >= BRIGHT_CONTRAST:
        return _bright_roi(volume, seed, roi_mm)
    watershed = _run(volume, seed, "soft-tissue-watershed", roi_mm)
    # a large lung tumour has little air near its centre; the watershed outline,
    # which runs on to the lung around it, tells (the level set stops short of it)
    if lung_tumour and ct and _shares_around(volume, watershed, _LUNG_HU)[0] >= _LUNG_SHELL_SHARE:
        return _run(volume, seed, "lung-nodule", roi_mm, min_roi)
    first, other = ("soft-tissue-level-set", watershed) if ct else (watershed, None)
    chosen = _run(volume, seed, first, roi_mm) if isinstance(first, str) else first
    convexity = {chosen.method: solidity(chosen.mask)}
    agreement = None
    if convexity[chosen.method] < _MIN_SOLIDITY:
        alternative = other or _run(volume, seed, "soft-tissue-level-set", roi_mm)
        convexity[alternative.method] = solidity(alternative.mask)
        agreement = _agreement(chosen, alternative)
        if convexity[alternative.method] > convexity[chosen.method]:
            chosen = alternative
    quality = chosen.quality
    if convexity[chosen.method] < _MIN_SOLIDITY:
        quality = "leak"
    elif quality == "ok" and agreement is not None and agreement < _MIN_AGREEMENT:
        quality = "uncertain"
    details = {
        **chosen.details,
        "outline": chosen.method,
        "solidity": {k: round(v, 3) for k, v in convexity.items()},
    }
    if agreement is not None:
        details["agreement"] = round(agreement, 3)
    return RoiSegmentation(chosen.box, chosen.mask, "soft-tissue", quality, details)


def _bright_roi(
    volume: Volume, seed: tuple[int, int, int], roi_mm: float | None
) -> RoiSegmentation:
    """A lesion far brighter than its region on MR: the hull of its bright part
    (:func:`bright_outline`); ``uncertain`` where under :data:`_BRIGHT_MIN_SOLIDITY`
    of that hull was bright."""
    bright = _run(volume, seed, "soft-tissue-bright", roi_mm)
    quality = bright.quality
    if quality == "ok" and bright.details["solidity"] < _BRIGHT_MIN_SOLIDITY:
        quality = "uncertain"
    details = {**bright.details, "outline": bright.method}
    return RoiSegmentation(bright.box, bright.mask, "soft-tissue", quality, details)


def _context(volume: Volume, seed: tuple[int, int, int], half_mm: float) -> OutlineContext:
    """What an outline method sees in the region of ``half_mm`` about ``seed``."""
    spacing = array_spacing(volume)
    box = crop_slices(seed, half_mm, spacing, volume.array.shape)
    values = np.asarray(volume.array[box], dtype=np.float64)
    local = (seed[0] - box[0].start, seed[1] - box[1].start, seed[2] - box[2].start)
    return OutlineContext(values, local, spacing, modality_of(volume))


def _holds(outline: RoiSegmentation, voxel: tuple[int, int, int]) -> bool:
    """Whether ``outline`` holds ``voxel`` (of the image grid)."""
    local = tuple(v - b.start for v, b in zip(voxel, outline.box, strict=True))
    inside = all(0 <= x < n for x, n in zip(local, outline.mask.shape, strict=True))
    return inside and bool(outline.mask[local])


def _more_of_a_lung_tumour(
    volume: Volume, outline: RoiSegmentation, larger: RoiSegmentation
) -> bool:
    """Whether ``larger`` is more of the lung tumour ``outline`` (the click's)
    is a part of.

    It must be a lung-lesion outline, and the share of aerated lung around it
    at least :data:`_LADDER_LUNG` of that around ``outline``: grown from a
    part of a tumour to the whole, an outline trades the cut faces (the rest
    of the tumour) for the lung around the tumour; grown into the chest wall or
    the mediastinum, it has more soft tissue around it instead.
    """
    if larger.method != "lung-nodule":
        return False
    before = _shares_around(volume, outline, _LUNG_HU)[0]
    return _shares_around(volume, larger, _LUNG_HU)[0] >= _LADDER_LUNG * before


def _overlap(a: RoiSegmentation, b: RoiSegmentation) -> int:
    """Voxels shared by two outlines on their own crops of the same grid."""
    lo = [max(x.start, y.start) for x, y in zip(a.box, b.box, strict=True)]
    hi = [min(x.stop, y.stop) for x, y in zip(a.box, b.box, strict=True)]
    if any(start >= stop for start, stop in zip(lo, hi, strict=True)):
        return 0
    in_a = tuple(slice(s - x.start, e - x.start) for s, e, x in zip(lo, hi, a.box, strict=True))
    in_b = tuple(slice(s - x.start, e - x.start) for s, e, x in zip(lo, hi, b.box, strict=True))
    return int(np.count_nonzero(a.mask[in_a] & b.mask[in_b]))


def _agreement(a: RoiSegmentation, b: RoiSegmentation) -> float:
    """Dice of two outlines on their own crops of the same grid."""
    total = int(np.count_nonzero(a.mask)) + int(np.count_nonzero(b.mask))
    return 2.0 * _overlap(a, b) / total if total else 0.0


def _shares_around(
    volume: Volume, roi: RoiSegmentation, *ranges: tuple[float, float]
) -> list[float]:
    """Share of each HU range ``[lo, hi)`` in a 1-4 mm shell around a mask."""
    dist = distance_mm(~roi.mask, array_spacing(volume))
    values = np.asarray(volume.array[roi.box][(dist > 1.0) & (dist <= 4.0)], dtype=np.float64)
    if values.size == 0:
        return [0.0 for _ in ranges]
    return [float(np.mean((values >= lo) & (values < hi))) for lo, hi in ranges]


def _run(
    volume: Volume,
    seed: tuple[int, int, int],
    name: str,
    roi_mm: float | None,
    min_roi_mm: float = 0.0,
) -> RoiSegmentation:
    """Outline with strategy ``name`` on growing regions of interest (half-sizes
    from :data:`STRATEGIES`, those under ``min_roi_mm`` left out but the
    largest), or on the one of ``roi_mm``, until the outline stays inside."""
    func, sizes = STRATEGIES[name]
    sizes = tuple(h for h in sizes if h >= min_roi_mm) or sizes[-1:]
    if roi_mm is not None:
        sizes = (roi_mm,)
    spacing = array_spacing(volume)
    quality = "ok"
    for half in sizes:
        box = crop_slices(seed, half, spacing, volume.array.shape)
        sub, details = func(_context(volume, seed, half))
        if not sub.any():
            raise AnalysisError("nothing could be segmented at the seed", value=list(seed))
        quality = "leak" if _touches_border(sub, box, volume.array.shape, spacing) else "ok"
        # inside the region but joined to a part that runs on beyond it: a lesion
        # wider than the region, cut at its edge; a larger one tells
        if quality == "ok" and not details.pop(RUNS_ON, False):
            break
    details.pop(RUNS_ON, None)
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
        AnalysisError: nothing to segment at the seed, NaN values, or a grid of
            unknown millimetres.
    """
    require_mm_geometry(volume, "segmentation")
    require_finite(volume.array, "segmentation")
    if min(volume.array.shape) < _MIN_SLICES:
        raise AnalysisError(
            f"click-to-segment needs at least {_MIN_SLICES} slices, rows and columns",
            value=volume.shape_ijk,
        )
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
