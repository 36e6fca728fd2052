"""Click-to-segment: a 3D lesion mask from one point in patient coordinates.

What a radiologist does with the mouse: click in the lesion, get its outline.
The method depends on the image and on where the click falls: the click's
features are computed once (:mod:`radcycle.imaging.features`), a table of rules
chooses the method and records which rule did (:mod:`radcycle.imaging.routing`,
``details["route"]``), and every method is a
:class:`~radcycle.imaging.segmenters.Segmenter` returning a typed
:class:`~radcycle.imaging.segmenters.Outline`; the thresholds are in
:class:`~radcycle.imaging.segmentation_settings.SegmentationSettings`:

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
  the modality's method gives one less convex than ``min_solidity``, the
  other method's outline is kept if it is more convex. On MR a lesion far
  brighter than its region (an enhancing lesion; ``bright_contrast``
  noise SDs above the region's median near the click) is outlined by
  ``soft-tissue-bright`` instead: above half-way from that median to the
  lesion's peak, holes filled, and the 3D convex hull, so that non-enhancing
  and necrotic parts are inside.
* ``pet`` (PET): the anatomical tumour, as a GTV drawn on CT or MR holds it:
  the 3D convex hull of the uptake above 25 % of the background-corrected local
  SUVmax, so that necrotic cores are inside even where their hot rim is open;
  ``pet-41`` is the EANM 41 % metabolic volume, holes filled, no hull.

The result carries a :class:`~radcycle.imaging.segmenters.Quality`; ``leak``
means the outline reached the edge of the largest region of interest tried,
so it probably ran into a neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.errors import AnalysisError, InputError, RadcycleError
from radcycle.imaging.blobs import Blob, blob_at
from radcycle.imaging.features import ClickFeatures, click_features
from radcycle.imaging.hu import AERATED_LUNG_HU, BODY_HU, FAT_HU, GAS_HU
from radcycle.imaging.inputs import modality_of, require_finite, require_mm_geometry
from radcycle.imaging.masks import (
    array_spacing,
    check_mask_matches,
    crop_slices,
    distance_mm,
    solidity,
    voxel_of_point,
)
from radcycle.imaging.outlines import bright_contrast
from radcycle.imaging.routing import Route, asked, route
from radcycle.imaging.segmentation_settings import SegmentationSettings
from radcycle.imaging.segmenters import CLASSICAL, Outline, Quality, outline_context

__all__ = [
    "DEFAULT_SETTINGS",
    "STRATEGIES",
    "ClassicalRouter",
    "RoiSegmentation",
    "SegmentationResult",
    "mask_from_volume",
    "segment_at_seed",
    "segment_roi",
]

#: The thresholds click-to-segment uses unless a caller gives its own.
DEFAULT_SETTINGS = SegmentationSettings()

#: The classical methods a caller may ask for by name.
STRATEGIES = CLASSICAL

#: A lesion mask on a crop of the image grid (what :func:`segment_roi` returns).
RoiSegmentation = Outline


@dataclass(frozen=True)
class SegmentationResult:
    """A lesion mask on the image's grid with how it was made.

    Args:
        mask: boolean Volume on the image grid.
        method: the strategy used (``lung-nodule``, ``soft-tissue``, ``pet``, ``given``).
        quality: :class:`~radcycle.imaging.segmenters.Quality` (``ok``, ``leak``,
            ``uncertain``).
        details: thresholds and sizes used, and the route taken, for provenance.
    """

    mask: Volume
    method: str
    quality: Quality = Quality.OK
    details: dict[str, Any] = field(default_factory=dict)


def _check_seed(volume: Volume, seed: tuple[int, int, int], s: SegmentationSettings) -> None:
    modality = modality_of(volume)
    if modality != "CT":
        _check_seed_signal(volume, seed, modality, s)
        return
    if float(volume.array[seed]) > GAS_HU:
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


def _check_seed_signal(
    volume: Volume, seed: tuple[int, int, int], modality: str, s: SegmentationSettings
) -> None:
    """MR and PET: a click where there is next to no signal is outside the body."""
    sl = crop_slices(seed, 3.0, array_spacing(volume), volume.array.shape)
    local = float(np.median(volume.array[sl]))
    bright = float(np.percentile(volume.array, 99))
    if bright > 0 and local <= s.no_signal_share(modality) * bright:
        raise InputError(
            "the seed lies outside the body (no signal there)",
            value={"seed_value": round(local, 3), "image_p99": round(bright, 3)},
        )


def segment_roi(
    volume: Volume,
    seed_mm: tuple[float, float, float],
    *,
    strategy: str | None = None,
    roi_mm: float | None = None,
    settings: SegmentationSettings = DEFAULT_SETTINGS,
) -> Outline:
    """Like :func:`segment_at_seed`, but the mask stays on its region of interest.

    Detection calls this for hundreds of candidates, where a whole-grid mask for
    each would cost more than the segmentation itself. A click on CT with
    neither ``strategy`` nor ``roi_mm`` is a reader's, anywhere in the lesion:
    the blob under it (:func:`blob_at`) helps choose the strategy and the
    region, and where the outline from the click holds under
    ``settings.min_blob_share`` of a large blob's sphere, the outline from the
    blob's centre (or for a lung tumour, a larger blob's) is kept if it holds
    the click and is larger (:func:`_recentred`; ``details["recentred_from"]``
    then gives the click's voxel).
    """
    seed = voxel_of_point(volume, seed_mm)
    _check_seed(volume, seed, settings)
    if strategy is not None and strategy not in CLASSICAL:
        raise InputError(f"unknown strategy; choose from {sorted(CLASSICAL)}", value=strategy)
    if strategy is not None or roi_mm is not None or modality_of(volume) != "CT":
        return _outline_at(volume, seed, strategy, roi_mm, None, settings)
    return _reader_click(volume, seed, settings)


def _reader_click(
    volume: Volume, seed: tuple[int, int, int], settings: SegmentationSettings
) -> Outline:
    """A reader's click on CT: the outline at the click, recentred on its blob
    where it is a small part of a large tumour."""
    blob = blob_at(volume, seed)
    first = _outline_at(volume, seed, None, None, blob, settings)
    if blob is None or blob.radius_mm <= settings.large_blob_mm:
        return first
    best = _recentred(volume, seed, first, blob, settings)
    if best is not first:
        best.details["recentred_from"] = [int(x) for x in seed]
        taken = best.details["route"]
        best.details["route"] = {**taken, "then": [*taken.get("then", []), "recentred"]}
    return best


@dataclass(frozen=True)
class ClassicalRouter:
    """The classical methods behind the routing table, as one
    :class:`~radcycle.imaging.segmenters.Segmenter` (``classical``)."""

    name: str = "classical"

    def outline(
        self,
        volume: Volume,
        features: ClickFeatures,
        settings: SegmentationSettings,
        *,
        roi_mm: float | None = None,
    ) -> Outline:
        """The outline the router draws at the click of ``features``."""
        _check_seed(volume, features.seed, settings)
        if roi_mm is not None or features.modality != "CT":
            return _outline_at(volume, features.seed, None, roi_mm, None, settings)
        return _reader_click(volume, features.seed, settings)


def _recentred(
    volume: Volume,
    seed: tuple[int, int, int],
    first: Outline,
    blob: Blob,
    s: SegmentationSettings,
) -> Outline:
    """A click off the centre of a large tumour, outlined as a small part of it:
    the outline from the centre of its blob, or for a lung tumour of a larger
    one (a tumour wider than the click's scale), where it holds the click and
    half of the outline so far, and is larger. Beside the mediastinum a larger
    blob is the mediastinum or the heart, so larger blobs are for lung tumours
    alone (a lung-lesion outline, or a soft-tissue one with little fat around
    it, ``ladder_fat``), and what their centres give must be more of one
    (:func:`_more_of_a_lung_tumour`)."""
    voxel = float(np.prod(array_spacing(volume)))
    best = first
    lung = first.method == "lung-nodule" or (
        first.method == "soft-tissue" and _shares_around(volume, first, FAT_HU)[0] < s.ladder_fat
    )
    for candidate in (blob, *(blob.larger if lung else ())):
        sphere = 4.0 / 3.0 * np.pi * candidate.radius_mm**3
        share = s.min_blob_share if candidate is blob else s.ladder_share
        if np.count_nonzero(best.mask) * voxel >= share * sphere:
            continue
        try:
            second = _outline_at(volume, candidate.centre, None, None, candidate, s)
        except RadcycleError:
            continue
        if not _holds(second, seed) or second.quality is not Quality.OK:
            continue
        if candidate is not blob and not _more_of_a_lung_tumour(volume, first, second, s):
            continue
        size = int(np.count_nonzero(best.mask))
        held = _overlap(best, second) / max(size, 1)
        if np.count_nonzero(second.mask) > size and held >= s.ladder_hold:
            best = second
    return best


def _outline_at(
    volume: Volume,
    seed: tuple[int, int, int],
    strategy: str | None,
    roi_mm: float | None,
    blob: Blob | None,
    s: SegmentationSettings,
) -> Outline:
    """The outline at ``seed`` by ``strategy``, or by the method the routing
    table chooses there; ``details["route"]`` records the rule and the
    decisions taken after it."""
    features = click_features(volume, seed, blob, s, lung=strategy is None)
    chosen = asked(strategy) if strategy is not None else route(features, s)
    then: list[str] = []
    out = _routed(volume, features, chosen, roi_mm, s, then)
    out.details["route"] = {**chosen.record(), "then": then} if then else chosen.record()
    return out


def _routed(
    volume: Volume,
    f: ClickFeatures,
    chosen: Route,
    roi_mm: float | None,
    s: SegmentationSettings,
    then: list[str],
) -> Outline:
    routed = chosen.rule != "asked"
    if chosen.method == "soft-tissue":
        # asked for by name (a lymph node, a liver lesion), it is not a lung tumour
        return _soft_tissue_roi(volume, f, roi_mm, s, then, lung_tumour=routed)
    if routed and chosen.method == "lung-nodule":
        # near the lung but enveloped more by fat than by aerated lung: a node in
        # the mediastinum or hilum (or a lesion in the chest wall), not in the lung;
        # inside a large tumour the probe may not reach its edge (next to no fat
        # or lung around it), and the soft-tissue outline's surroundings tell
        probe = _run(volume, f, "soft-tissue-watershed", s.probe_roi_mm, s)
        fat, lung = _shares_around(volume, probe, FAT_HU, AERATED_LUNG_HU)
        if fat >= lung:
            then.append("probe-node")
            unsure = f.large and fat < s.lung_shell_share
            return _soft_tissue_roi(volume, f, roi_mm, s, then, lung_tumour=unsure)
    return _run(volume, f, chosen.method, roi_mm, s, f.min_roi_mm)


def _soft_tissue_roi(
    volume: Volume,
    f: ClickFeatures,
    roi_mm: float | None,
    s: SegmentationSettings,
    then: list[str],
    *,
    lung_tumour: bool,
) -> Outline:
    """The soft-tissue outline of the modality's method, or the other's if it leaked.

    An outline that leaks into a neighbour (muscle of the same signal, a vessel)
    becomes concave; a soft-tissue tumour is close to convex. Where the method of
    the modality gives an outline less convex than ``min_solidity``, the
    other method is tried and the more convex outline kept; ``quality`` is
    ``leak`` where both are below it, and ``uncertain`` where the two outlines
    share less than ``min_agreement`` of their voxels (Dice): the image
    does not tell the lesion from its neighbour. On MR, a lesion far brighter
    than its region (``outline.bright_contrast``) is outlined by
    :func:`~radcycle.imaging.outlines.bright_outline` instead. With
    ``lung_tumour``, a CT outline with aerated lung around it is redone as a
    lung lesion, on regions of interest of at least the click's ``min_roi_mm``.
    """
    ct = f.modality == "CT"
    ctx = None if ct else outline_context(volume, f, roi_mm or 60.0, s)
    if ctx is not None and bright_contrast(ctx) >= s.outline.bright_contrast:
        then.append("mr-bright")
        return _bright_roi(volume, f, roi_mm, s)
    watershed = _run(volume, f, "soft-tissue-watershed", roi_mm, s)
    # a large lung tumour has little air near its centre; the watershed outline,
    # which runs on to the lung around it, tells (the level set stops short of it)
    lung = _shares_around(volume, watershed, AERATED_LUNG_HU)[0] if lung_tumour and ct else 0.0
    if lung >= s.lung_shell_share and lung_tumour and ct:
        then.append("lung-tumour-redo")
        return _run(volume, f, "lung-nodule", roi_mm, s, f.min_roi_mm)
    first, other = ("soft-tissue-level-set", watershed) if ct else (watershed, None)
    chosen = _run(volume, f, first, roi_mm, s) if isinstance(first, str) else first
    convexity = {chosen.method: solidity(chosen.mask)}
    agreement = None
    if convexity[chosen.method] < s.min_solidity:
        alternative = other or _run(volume, f, "soft-tissue-level-set", roi_mm, s)
        convexity[alternative.method] = solidity(alternative.mask)
        agreement = _agreement(chosen, alternative)
        if convexity[alternative.method] > convexity[chosen.method]:
            chosen = alternative
            then.append("other-method-more-convex")
    quality = chosen.quality
    if convexity[chosen.method] < s.min_solidity:
        quality = Quality.LEAK
    elif quality is Quality.OK and agreement is not None and agreement < s.min_agreement:
        quality = Quality.UNCERTAIN
    details = {
        **chosen.details,
        "outline": chosen.method,
        "solidity": {k: round(v, 3) for k, v in convexity.items()},
    }
    if agreement is not None:
        details["agreement"] = round(agreement, 3)
    return Outline(chosen.box, chosen.mask, "soft-tissue", quality, details)


def _bright_roi(
    volume: Volume, f: ClickFeatures, roi_mm: float | None, s: SegmentationSettings
) -> Outline:
    """A lesion far brighter than its region on MR: the hull of its bright part
    (:func:`~radcycle.imaging.outlines.bright_outline`); ``uncertain`` where
    under ``bright_min_solidity`` of that hull was bright."""
    bright = _run(volume, f, "soft-tissue-bright", roi_mm, s)
    quality = bright.quality
    if quality is Quality.OK and bright.details["solidity"] < s.bright_min_solidity:
        quality = Quality.UNCERTAIN
    details = {**bright.details, "outline": bright.method}
    return Outline(bright.box, bright.mask, "soft-tissue", quality, details)


def _holds(outline: Outline, voxel: tuple[int, int, int]) -> bool:
    """Whether ``outline`` holds ``voxel`` (of the image grid)."""
    local = tuple(v - b.start for v, b in zip(voxel, outline.box, strict=True))
    inside = all(0 <= x < n for x, n in zip(local, outline.mask.shape, strict=True))
    return inside and bool(outline.mask[local])


def _more_of_a_lung_tumour(
    volume: Volume, outline: Outline, larger: Outline, s: SegmentationSettings
) -> bool:
    """Whether ``larger`` is more of the lung tumour ``outline`` (the click's)
    is a part of.

    It must be a lung-lesion outline, and the share of aerated lung around it
    at least ``ladder_lung`` of that around ``outline``: grown from a
    part of a tumour to the whole, an outline trades the cut faces (the rest
    of the tumour) for the lung around the tumour; grown into the chest wall or
    the mediastinum, it has more soft tissue around it instead.
    """
    if larger.method != "lung-nodule":
        return False
    before = _shares_around(volume, outline, AERATED_LUNG_HU)[0]
    return _shares_around(volume, larger, AERATED_LUNG_HU)[0] >= s.ladder_lung * before


def _overlap(a: Outline, b: Outline) -> int:
    """Voxels shared by two outlines on their own crops of the same grid."""
    lo = [max(x.start, y.start) for x, y in zip(a.box, b.box, strict=True)]
    hi = [min(x.stop, y.stop) for x, y in zip(a.box, b.box, strict=True)]
    if any(start >= stop for start, stop in zip(lo, hi, strict=True)):
        return 0
    in_a = tuple(slice(s - x.start, e - x.start) for s, e, x in zip(lo, hi, a.box, strict=True))
    in_b = tuple(slice(s - x.start, e - x.start) for s, e, x in zip(lo, hi, b.box, strict=True))
    return int(np.count_nonzero(a.mask[in_a] & b.mask[in_b]))


def _agreement(a: Outline, b: Outline) -> float:
    """Dice of two outlines on their own crops of the same grid."""
    total = int(np.count_nonzero(a.mask)) + int(np.count_nonzero(b.mask))
    return 2.0 * _overlap(a, b) / total if total else 0.0


def _shares_around(volume: Volume, roi: Outline, *ranges: tuple[float, float]) -> list[float]:
    """Share of each HU range ``[lo, hi)`` in a 1-4 mm shell around a mask."""
    dist = distance_mm(~roi.mask, array_spacing(volume))
    values = np.asarray(volume.array[roi.box][(dist > 1.0) & (dist <= 4.0)], dtype=np.float64)
    if values.size == 0:
        return [0.0 for _ in ranges]
    return [float(np.mean((values >= lo) & (values < hi))) for lo, hi in ranges]


def _run(
    volume: Volume,
    f: ClickFeatures,
    name: str,
    roi_mm: float | None,
    s: SegmentationSettings,
    min_roi_mm: float = 0.0,
) -> Outline:
    """Outline with the classical method ``name`` (:data:`STRATEGIES`)."""
    return CLASSICAL[name].outline(volume, f, s, roi_mm=roi_mm, min_roi_mm=min_roi_mm)


def segment_at_seed(
    volume: Volume,
    seed_mm: tuple[float, float, float],
    *,
    strategy: str | None = None,
    roi_mm: float | None = None,
    settings: SegmentationSettings = DEFAULT_SETTINGS,
) -> SegmentationResult:
    """Segment the lesion under a clicked point.

    Args:
        volume: CT (HU), MR or PET (SUV) image; ``metadata["modality"]`` picks the
            strategy (CT is recognised by its HU range where metadata is absent).
        seed_mm: the click, LPS millimetres.
        strategy: force one of :data:`STRATEGIES`.
        roi_mm: try only this half-size of region of interest (mm), not the
            strategy's growing series.
        settings: the thresholds (:data:`DEFAULT_SETTINGS` unless given).

    Raises:
        InputError: the seed lies outside the image or, on CT, outside the body.
        AnalysisError: nothing to segment at the seed, NaN values, or a grid of
            unknown millimetres.
    """
    require_mm_geometry(volume, "segmentation")
    require_finite(volume.array, "segmentation")
    if min(volume.array.shape) < settings.min_slices:
        raise AnalysisError(
            f"click-to-segment needs at least {settings.min_slices} slices, rows and columns",
            value=volume.shape_ijk,
        )
    roi = segment_roi(volume, seed_mm, strategy=strategy, roi_mm=roi_mm, settings=settings)
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
