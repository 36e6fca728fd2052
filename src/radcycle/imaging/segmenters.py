"""One protocol for every click-to-segment method, and the typed outline each returns.

A :class:`Segmenter` takes an image and a click's features
(:class:`radcycle.imaging.features.ClickFeatures`) and returns an
:class:`Outline`: a mask on a crop of the image grid, the method that drew it,
a :class:`Quality` and the details of how. Each classical outline method of
:mod:`radcycle.imaging.outlines` is one (:data:`CLASSICAL`, run on growing
regions of interest by :class:`ClassicalSegmenter`); the router of
:mod:`radcycle.imaging.segmentation` and the learned models of
:mod:`radcycle.models` are others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from radcycle.domain import Volume
from radcycle.errors import AnalysisError
from radcycle.imaging.features import ClickFeatures
from radcycle.imaging.masks import BoolArray, crop_slices
from radcycle.imaging.outlines import (
    RUNS_ON,
    OutlineContext,
    bright_outline,
    level_set_outline,
    lung_nodule_outline,
    pet_outline,
    soft_tissue_outline,
    watershed_outline,
)
from radcycle.imaging.segmentation_settings import SegmentationSettings

__all__ = [
    "CLASSICAL",
    "ClassicalSegmenter",
    "Outline",
    "OutlineMethod",
    "Quality",
    "Segmenter",
    "outline_context",
]

log = logging.getLogger(__name__)

Slices = tuple[slice, slice, slice]
OutlineMethod = Callable[[OutlineContext], tuple[BoolArray, dict[str, Any]]]


class Quality(StrEnum):
    """How far an outline can be trusted.

    ``ok``; ``leak``: it reached the edge of the largest region tried or is
    too concave, so it probably ran into a neighbour; ``uncertain``: the image
    does not tell the lesion from its neighbour (two methods disagree, a hull
    holds more than lesion, a learned model is unsure).

    >>> Quality("leak") is Quality.LEAK and Quality.OK == "ok"
    True
    """

    OK = "ok"
    LEAK = "leak"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class Outline:
    """A lesion mask on a crop of the image grid, with how it was made.

    Args:
        box: the crop, array slices ``[k, j, i]`` of the image grid.
        mask: boolean mask on that crop.
        method: the method that drew it (``lung-nodule``, ``soft-tissue``, ``pet``, ...).
        quality: see :class:`Quality`.
        details: thresholds, sizes and the route taken, for provenance.
    """

    box: tuple[slice, slice, slice]
    mask: BoolArray
    method: str
    quality: Quality
    details: dict[str, Any]

    def full(self, shape: tuple[int, ...]) -> BoolArray:
        """The mask on the whole grid of ``shape``."""
        out = np.zeros(shape, dtype=bool)
        out[self.box] = self.mask
        return out


class Segmenter(Protocol):
    """A click-to-segment method."""

    @property
    def name(self) -> str:
        """The method's name, as outlines carry it."""
        ...

    def outline(
        self,
        volume: Volume,
        features: ClickFeatures,
        settings: SegmentationSettings,
        *,
        roi_mm: float | None = None,
    ) -> Outline:
        """The outline of the lesion at the click of ``features``.

        Raises:
            AnalysisError: nothing could be outlined there.
        """
        ...


def outline_context(
    volume: Volume, features: ClickFeatures, half_mm: float, settings: SegmentationSettings
) -> OutlineContext:
    """What an outline method sees in the region of ``half_mm`` about the click."""
    seed = features.seed
    box = crop_slices(seed, half_mm, features.spacing, volume.array.shape)
    values = np.asarray(volume.array[box], dtype=np.float64)
    local = (seed[0] - box[0].start, seed[1] - box[1].start, seed[2] - box[2].start)
    return OutlineContext(values, local, features.spacing, features.modality, settings.outline)


def touches_border(
    mask: BoolArray,
    box: Slices,
    shape: tuple[int, ...],
    spacing: tuple[float, float, float],
    span_mm: float,
) -> bool:
    """Whether an outline reaches the edge of its region of interest.

    The edge of the image counts only where the outline spans the image from
    side to side over ``span_mm`` or more (the click was in tissue that fills
    the field of view, not in a lesion).
    """
    for axis, (sl, n, sp) in enumerate(zip(box, shape, spacing, strict=True)):
        first = np.take(mask, 0, axis=axis).any()
        last = np.take(mask, -1, axis=axis).any()
        if (first and sl.start > 0) or (last and sl.stop < n):
            return True
        if first and last and sl.start == 0 and sl.stop == n and n * sp >= span_mm:
            return True
    return False


@dataclass(frozen=True)
class ClassicalSegmenter:
    """A classical outline method run on growing regions of interest.

    The half-sizes (mm) in ``roi_mm`` are tried smallest first (those under
    ``min_roi_mm`` left out but the largest) until the outline stays inside its region and does
    not run on beyond it; ``leak`` where even the largest does not hold it.
    """

    name: str
    method: OutlineMethod
    roi_mm: tuple[float, ...]

    def outline(
        self,
        volume: Volume,
        features: ClickFeatures,
        settings: SegmentationSettings,
        *,
        roi_mm: float | None = None,
        min_roi_mm: float = 0.0,
    ) -> Outline:
        """The outline at the click, on the region of ``roi_mm`` alone if given."""
        sizes = tuple(h for h in self.roi_mm if h >= min_roi_mm) or self.roi_mm[-1:]
        if roi_mm is not None:
            sizes = (roi_mm,)
        shape = volume.array.shape
        quality = Quality.OK
        for half in sizes:
            box = crop_slices(features.seed, half, features.spacing, shape)
            sub, details = self.method(outline_context(volume, features, half, settings))
            if not sub.any():
                raise AnalysisError(
                    "nothing could be segmented at the seed", value=list(features.seed)
                )
            leaked = touches_border(sub, box, shape, features.spacing, settings.span_mm)
            quality = Quality.LEAK if leaked else Quality.OK
            # inside the region but joined to a part that runs on beyond it: a lesion
            # wider than the region, cut at its edge; a larger one tells
            if quality is Quality.OK and not details.pop(RUNS_ON, False):
                break
        details.pop(RUNS_ON, None)
        details["roi_half_mm"] = half
        log.debug("segmented %d voxels with %s (%s)", int(sub.sum()), self.name, quality)
        return Outline(box, sub, self.name, quality, details)


def _pet_41(ctx: OutlineContext) -> tuple[BoolArray, dict[str, Any]]:
    return pet_outline(ctx, anatomical=False)


#: The classical methods by name, each with the region half-sizes (mm) it tries.
CLASSICAL: dict[str, ClassicalSegmenter] = {
    s.name: s
    for s in (
        ClassicalSegmenter("lung-nodule", lung_nodule_outline, (30.0, 60.0, 100.0)),
        ClassicalSegmenter("soft-tissue", soft_tissue_outline, (60.0, 100.0)),
        ClassicalSegmenter("soft-tissue-level-set", level_set_outline, (60.0, 100.0)),
        ClassicalSegmenter("soft-tissue-watershed", watershed_outline, (60.0, 100.0)),
        ClassicalSegmenter("soft-tissue-bright", bright_outline, (60.0, 100.0)),
        ClassicalSegmenter("pet", pet_outline, (60.0, 120.0)),
        ClassicalSegmenter("pet-41", _pet_41, (60.0, 120.0)),
    )
}
