"""Click-to-segment with the method the evidence chose: classical or learned.

The registry's model says, from its cross-validation (``metrics["default_for"]``),
for which modalities it beat the classical methods; on those the learned
model outlines a click by default (``method="auto"``), elsewhere the classical
router does, and so it does for a click the router takes for a lung lesion
(the model never saw one). Positive clicks beyond the first and negative clicks (corrections)
are for the learned model only. Where the learned model cannot serve (weights
missing or not matching the registry, ONNX Runtime absent, a modality it was
not trained on) and the classical method can, ``auto`` falls back to it and
says so in ``details["fallback"]``; asked for by name, it is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radcycle.domain import Volume
from radcycle.errors import InputError
from radcycle.imaging.features import click_features
from radcycle.imaging.inputs import modality_of, require_finite, require_mm_geometry
from radcycle.imaging.masks import voxel_of_point
from radcycle.imaging.routing import route
from radcycle.imaging.segmentation import DEFAULT_SETTINGS, SegmentationResult, segment_at_seed
from radcycle.models.interactive import LearnedSegmenter, OnnxModel
from radcycle.models.registry import find_spec

__all__ = ["DEFAULT_MODEL", "METHODS", "ClickSegmentation", "segment_clicks"]

#: The learned model used unless another is named.
DEFAULT_MODEL = "click-unet"
METHODS = ("auto", "classical", "learned")

Point = tuple[float, float, float]


@dataclass(frozen=True)
class ClickSegmentation:
    """The outline, and the probability map where a learned model drew it."""

    result: SegmentationResult
    probabilities: Volume | None = None


def segment_clicks(
    volume: Volume,
    positive: Sequence[Point],
    negative: Sequence[Point] = (),
    *,
    method: str = "auto",
    strategy: str | None = None,
    model: str = DEFAULT_MODEL,
    weights: Path | None = None,
) -> ClickSegmentation:
    """Outline the lesion at the clicks (LPS mm).

    Raises:
        InputError: no positive click, an unknown method, corrections asked of
            the classical method, or the learned model asked for by name and
            unable to serve.
    """
    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}", value=method)
    if not positive:
        raise InputError("at least one --point is needed")
    extra = len(positive) > 1 or bool(negative)
    if method == "classical" or strategy is not None:
        if extra:
            raise InputError("more --point clicks and --negative need the learned method")
        return ClickSegmentation(segment_at_seed(volume, positive[0], strategy=strategy))
    modality = modality_of(volume)
    spec = find_spec(model)
    wanted = method == "learned" or extra or modality in spec.metrics.get("default_for", [])
    if not wanted or (method == "auto" and not extra and _in_lung(volume, positive[0])):
        return ClickSegmentation(segment_at_seed(volume, positive[0]))
    try:
        if modality not in spec.contract.modalities:
            raise InputError(
                f"model {spec.name!r} was trained on {', '.join(spec.contract.modalities)}, "
                f"not {modality}",
                value=modality,
            )
        runner = OnnxModel(spec, weights)
    except InputError as exc:
        if method == "learned" or extra:
            raise
        result = segment_at_seed(volume, positive[0])
        result.details["fallback"] = f"classical: the learned model could not serve ({exc})"
        return ClickSegmentation(result)
    return _learned(volume, positive, negative, modality, LearnedSegmenter(runner))


def _in_lung(volume: Volume, point: Point) -> bool:
    """Whether the classical router takes the click for a lung lesion (the model
    was never trained on lung nodules: the classical lung method keeps them)."""
    if modality_of(volume) != "CT":
        return False
    features = click_features(volume, voxel_of_point(volume, point), None, DEFAULT_SETTINGS)
    return route(features, DEFAULT_SETTINGS).method == "lung-nodule"


def _learned(
    volume: Volume,
    positive: Sequence[Point],
    negative: Sequence[Point],
    modality: str,
    segmenter: LearnedSegmenter,
) -> ClickSegmentation:
    require_mm_geometry(volume, "segmentation")
    require_finite(volume.array, "segmentation")
    pos = [voxel_of_point(volume, p) for p in positive]
    neg = [voxel_of_point(volume, p) for p in negative]
    learned = segmenter.segment(volume, pos, neg, modality)
    outline = learned.outline
    full = outline.full(volume.array.shape)
    prob = np.zeros(volume.array.shape, dtype=np.float32)
    prob[outline.box] = learned.probabilities
    outline.details["route"] = {"rule": "learned", "method": outline.method}
    result = SegmentationResult(
        volume.with_array(full), outline.method, outline.quality, outline.details
    )
    return ClickSegmentation(result, volume.with_array(prob))
