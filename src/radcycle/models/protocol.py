"""What a trained model promises: its input contract, its spec, and how it is run.

A :class:`ModelSpec` is one entry of the registry (:mod:`radcycle.models.registry`):
name, version, weights file and its SHA-256, labels, the modalities it was
trained on, its :class:`InputContract` (spacing, patch size, intensity
normalisation, click encoding), the training data and the measured metrics.
A :class:`ProbabilityModel` turns an encoded patch into a probability map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["InputContract", "ModelSpec", "ProbabilityModel"]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class InputContract:
    """How an image and its clicks become the network's input.

    Args:
        modalities: the modalities the model was trained on, in the order of
            their one-hot channels.
        spacing_mm: the isotropic voxel size (mm) the image is resampled to.
        patch: the patch edge (voxels) the network sees.
        normalisation: per modality, ``(kind, a, b)``: ``window``: clipped to
            ``[a, b]`` and scaled to ``[-1, 1]``; ``percentile``: divided by the
            image's ``a``-th percentile inside the patch and clipped at ``b``;
            ``suv``: divided by ``a`` and clipped at ``b``.
        click_sigma_mm: the clicks are encoded as Gaussian maps of this width,
            one channel for positive and one for negative clicks.
        threshold: the probability above which a voxel is lesion.
        antialias: images are smoothed before they are resampled to the model
            grid (:func:`radcycle.models.encoding.to_model_grid`).
        companions: the model also takes the patient's co-registered series of
            the other modalities (one image channel and one field-of-view channel
            per modality, :func:`radcycle.models.encoding.model_stack`), any of
            them possibly absent; without, one image channel and the modality
            one-hot.
    """

    modalities: tuple[str, ...]
    spacing_mm: float
    patch: int
    normalisation: tuple[tuple[str, tuple[str, float, float]], ...]
    click_sigma_mm: float
    threshold: float = 0.5
    antialias: bool = False
    companions: bool = False

    @property
    def channels(self) -> int:
        """Image, positive clicks, negative clicks, one channel per modality; with
        companions, an image and a field-of-view channel per modality, and the clicks."""
        if self.companions:
            return 2 * len(self.modalities) + 2
        return 3 + len(self.modalities)

    def normalisation_of(self, modality: str) -> tuple[str, float, float]:
        """The intensity normalisation of ``modality``."""
        return dict(self.normalisation)[modality]

    def to_dict(self) -> dict[str, Any]:
        return {
            "modalities": list(self.modalities),
            "spacing_mm": self.spacing_mm,
            "patch": self.patch,
            "normalisation": {m: list(n) for m, n in self.normalisation},
            "click_sigma_mm": self.click_sigma_mm,
            "threshold": self.threshold,
            "antialias": self.antialias,
            "companions": self.companions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputContract:
        norm = tuple(
            (str(m), (str(n[0]), float(n[1]), float(n[2])))
            for m, n in data["normalisation"].items()
        )
        return cls(
            modalities=tuple(str(m) for m in data["modalities"]),
            spacing_mm=float(data["spacing_mm"]),
            patch=int(data["patch"]),
            normalisation=norm,
            click_sigma_mm=float(data["click_sigma_mm"]),
            threshold=float(data.get("threshold", 0.5)),
            antialias=bool(data.get("antialias", False)),
            companions=bool(data.get("companions", False)),
        )


@dataclass(frozen=True)
class ModelSpec:
    """One model of the registry.

    Args:
        name, version: what it is called.
        file: the weights file, relative to the registry's folder.
        sha256: the weights file's SHA-256; a file that does not match is refused.
        labels: what the output channels mean.
        contract: the input contract.
        training: the data it was trained on, its licence and how.
        metrics: what was measured, per modality (see the model card).
        partners: registry models trained alike on other grids whose
            probabilities are averaged with this model's where it is used (its
            metrics are those of the group); a partner serves only in its group.
    """

    name: str
    version: str
    file: str
    sha256: str
    labels: tuple[str, ...]
    contract: InputContract
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    partners: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "file": self.file,
            "sha256": self.sha256,
            "labels": list(self.labels),
            "contract": self.contract.to_dict(),
            "training": self.training,
            "metrics": self.metrics,
        }
        if self.partners:
            out["partners"] = list(self.partners)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            file=str(data["file"]),
            sha256=str(data["sha256"]).lower(),
            labels=tuple(str(x) for x in data["labels"]),
            contract=InputContract.from_dict(data["contract"]),
            training=dict(data.get("training", {})),
            metrics=dict(data.get("metrics", {})),
            partners=tuple(str(x) for x in data.get("partners", ())),
        )


class ProbabilityModel(Protocol):
    """A network run on encoded patches."""

    @property
    def spec(self) -> ModelSpec:
        """The model's registry entry."""
        ...

    def predict(self, batch: FloatArray) -> FloatArray:
        """Lesion probabilities ``[n, 1, d, h, w]`` of encoded patches ``[n, c, d, h, w]``."""
        ...
