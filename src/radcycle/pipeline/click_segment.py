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

Given the patient's co-registered series of other modalities (``companions``,
``radcycle segment --with PT=pet.nii.gz``), a model that reads them outlines
the lesion on the clicked series with their help, where its cross-validation
chose it for that modality; a lung click stays with the classical method and
says that the companions were not used.

Unless a model is named, the learned model is the registry's model with the
highest cross-validated centre-click Dice on the clicked modality, measured as
it will be used: with the other series where they are given, on the series
alone otherwise (:func:`~radcycle.models.registry.best_spec`;
``details["model_choice"]`` says which and why). Its ``default_for`` applies
only where it is used as it was measured for it: a model chosen for its
other-series Dice is not made the default for a series alone.

With companions, on the modalities where the registry's cross-validation
found it better (``metrics["views_for"]``), the model reads the tumour from
every series in turn and their probabilities are averaged
(:class:`~radcycle.models.interactive.LearnedSegmenter` ``views``);
``details["views_choice"]`` says whether and why. A model with partners
(registry models trained alike on other grids) is read with them, their
probabilities averaged (``details["partners"]``); a partner whose weights
cannot serve is handled as the model's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from radcycle.models.interactive import LearnedSegmenter
from radcycle.models.registry import best_spec, find_spec
from radcycle.models.runtime import registry_models

__all__ = [
    "COMPANION_MODEL",
    "DEFAULT_MODEL",
    "METHODS",
    "ClickSegmentation",
    "segment_clicks",
]

#: The learned model where the registry's cross-validation names none for the
#: modality (:func:`~radcycle.models.registry.best_spec`).
DEFAULT_MODEL = "click-unet"
#: The same, with companion series.
COMPANION_MODEL = "click-unet-mm"
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
    model: str | None = None,
    weights: Path | None = None,
    companions: Mapping[str, Volume] | None = None,
) -> ClickSegmentation:
    """Outline the lesion at the clicks (LPS mm). ``model``: by default the one
    :func:`~radcycle.models.registry.best_spec` chooses for the modality, with
    ``companions`` (the patient's other series by modality, co-registered with
    ``volume``) or without.

    Raises:
        InputError: no positive click, an unknown method, corrections or
            companions asked of the classical method, a companion that does not
            contain the first click, or the learned model asked for by name and
            unable to serve.
    """
    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}", value=method)
    if not positive:
        raise InputError("at least one --point is needed")
    extra = len(positive) > 1 or bool(negative)
    others = dict(companions or {})
    if method == "classical" or strategy is not None:
        if extra or others:
            raise InputError("more --point clicks, --negative and --with need the learned method")
        return ClickSegmentation(segment_at_seed(volume, positive[0], strategy=strategy))
    modality = modality_of(volume)
    _check_companions(modality, others, positive[0])
    fallback = COMPANION_MODEL if others else DEFAULT_MODEL
    spec, choice = (
        (find_spec(model), "asked") if model else best_spec(modality, bool(others), fallback)
    )
    measured_as_used = spec.contract.companions == bool(others)
    default_for = spec.metrics.get("default_for", []) if measured_as_used else []
    wanted = method == "learned" or extra or modality in default_for
    if not wanted or (method == "auto" and not extra and _in_lung(volume, positive[0])):
        result = segment_at_seed(volume, positive[0])
        if others:
            result.details["companions"] = (
                f"not used: the classical method outlined this click ({spec.name} "
                f"is not chosen for {modality} or a lung lesion)"
            )
        return ClickSegmentation(result)
    try:
        if modality not in spec.contract.modalities:
            raise InputError(
                f"model {spec.name!r} was trained on {', '.join(spec.contract.modalities)}, "
                f"not {modality}",
                value=modality,
            )
        runner, partners = registry_models(spec, weights)
    except InputError as exc:
        if method == "learned" or extra:
            raise
        result = segment_at_seed(volume, positive[0])
        result.details["fallback"] = f"classical: the learned model could not serve ({exc})"
        return ClickSegmentation(result)
    views = bool(others) and measured_as_used and modality in spec.metrics.get("views_for", [])
    segmenter = LearnedSegmenter(runner, companions=others, views=views, partners=partners)
    done = _learned(volume, positive, negative, modality, segmenter)
    done.result.details["model_choice"] = choice
    if others and measured_as_used:
        done.result.details["views_choice"] = (
            f"every series read in turn: the registry's cross-validation chose it for {modality}"
            if views
            else f"the clicked series read with the others beside it ({modality} is not "
            "among the modalities where reading every series in turn did better)"
        )
    return done


def _check_companions(modality: str, companions: Mapping[str, Volume], click: Point) -> None:
    for other, series in companions.items():
        if other == modality:
            raise InputError(f"--with {other}: the clicked series is already {modality}")
        if not series.contains(click):
            raise InputError(
                f"--with {other}: the series does not contain the click "
                f"({', '.join(f'{v:.1f}' for v in click)} mm); is it the same patient, "
                "co-registered?",
                value=other,
            )
        require_mm_geometry(series, "segmentation")
        require_finite(series.array, "segmentation")


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
