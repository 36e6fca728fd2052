"""Structured provenance: which images, which algorithm, which rule.

These records follow the way DICOM SR TID 1500 (and highdicom) cite evidence: a
measurement refers to its source images by UID, names the algorithm that made it,
and a guideline result names the rule it applies. Exporters map them straight to
SR content items, SEG references and FHIR ``derivedFrom``; nothing is ever parsed
back out of prose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from radcycle.domain.identity import validate_uid
from radcycle.errors import InputError

__all__ = ["AcquisitionInfo", "AlgorithmRecord", "ImageReference", "RuleRecord"]


@dataclass(frozen=True)
class ImageReference:
    """The images a result was derived from (DICOM UIDs).

    Args:
        study_instance_uid: StudyInstanceUID.
        series_instance_uid: SeriesInstanceUID.
        sop_instance_uids: SOPInstanceUIDs of the instances used (empty: the
            whole series).
        sop_class_uid: SOPClassUID of those instances, if known.
        frame_of_reference_uid: FrameOfReferenceUID, if known.
        modality: Modality (``CT``, ``PT``, ``MR`` ...), if known.

    Example:
        >>> ref = ImageReference("1.2.3", "1.2.3.4", ("1.2.3.4.5",), modality="CT")
        >>> ref.to_dict()["sop_instance_uids"]
        ['1.2.3.4.5']
    """

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uids: tuple[str, ...] = ()
    sop_class_uid: str | None = None
    frame_of_reference_uid: str | None = None
    modality: str | None = None

    def __post_init__(self) -> None:
        validate_uid(self.study_instance_uid, "StudyInstanceUID")
        validate_uid(self.series_instance_uid, "SeriesInstanceUID")
        uids = tuple(self.sop_instance_uids)
        for uid in uids:
            validate_uid(uid, "SOPInstanceUID")
        object.__setattr__(self, "sop_instance_uids", uids)
        if self.sop_class_uid is not None:
            validate_uid(self.sop_class_uid, "SOPClassUID")
        if self.frame_of_reference_uid is not None:
            validate_uid(self.frame_of_reference_uid, "FrameOfReferenceUID")
        if self.modality is not None and not self.modality.strip():
            raise InputError("Modality must not be blank", value=self.modality)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "study_instance_uid": self.study_instance_uid,
            "series_instance_uid": self.series_instance_uid,
            "sop_instance_uids": list(self.sop_instance_uids),
            "sop_class_uid": self.sop_class_uid,
            "frame_of_reference_uid": self.frame_of_reference_uid,
            "modality": self.modality,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageReference:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(
                study_instance_uid=data["study_instance_uid"],
                series_instance_uid=data["series_instance_uid"],
                sop_instance_uids=tuple(data.get("sop_instance_uids") or ()),
                sop_class_uid=data.get("sop_class_uid"),
                frame_of_reference_uid=data.get("frame_of_reference_uid"),
                modality=data.get("modality"),
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"image reference lacks field {exc}", value=dict(data)) from exc


def _frozen_params(params: Mapping[str, str]) -> Mapping[str, str]:
    out: dict[str, str] = {}
    for key, value in params.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InputError("algorithm parameters must map text to text", value=(key, value))
        out[key] = value
    return MappingProxyType(dict(sorted(out.items())))


@dataclass(frozen=True)
class AlgorithmRecord:
    """The algorithm that produced a result (DICOM AlgorithmName / Version / Parameters).

    Args:
        name: algorithm name, e.g. ``"radcycle.outline"``.
        version: its version, e.g. ``"1"``.
        parameters: named settings, text to text.

    Example:
        >>> AlgorithmRecord("radcycle.outline", "1", {"method": "region"}).to_dict()
        {'name': 'radcycle.outline', 'version': '1', 'parameters': {'method': 'region'}}
    """

    name: str
    version: str
    parameters: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for what, value in (("algorithm name", self.name), ("algorithm version", self.version)):
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"{what} must be non-empty text", value=value)
        object.__setattr__(self, "parameters", _frozen_params(self.parameters))

    def __hash__(self) -> int:
        return hash((self.name, self.version, tuple(self.parameters.items())))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"name": self.name, "version": self.version, "parameters": dict(self.parameters)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlgorithmRecord:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(data["name"], data["version"], dict(data.get("parameters") or {}))
        except (KeyError, TypeError) as exc:
            raise InputError(f"algorithm record lacks field {exc}", value=dict(data)) from exc


@dataclass(frozen=True)
class RuleRecord:
    """The guideline rule a result applies.

    Args:
        guideline: guideline name, e.g. ``"RECIST"``, ``"Lung-RADS"``.
        version: its version, e.g. ``"1.1"``, ``"v2022"``.
        section: section or table cited, e.g. ``"4.4.1"``.

    Example:
        >>> RuleRecord("RECIST", "1.1", "4.4.1").cite()
        'RECIST 1.1 section 4.4.1'
    """

    guideline: str
    version: str
    section: str

    def __post_init__(self) -> None:
        for what in ("guideline", "version", "section"):
            value = getattr(self, what)
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"rule {what} must be non-empty text", value=value)

    def cite(self) -> str:
        """The rule in words, for a report."""
        return f"{self.guideline} {self.version} section {self.section}"

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready dictionary."""
        return {"guideline": self.guideline, "version": self.version, "section": self.section}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleRecord:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(data["guideline"], data["version"], data["section"])
        except (KeyError, TypeError) as exc:
            raise InputError(f"rule record lacks field {exc}", value=dict(data)) from exc


@dataclass(frozen=True)
class AcquisitionInfo:
    """What other packages read of an image's source, typed (filled once by ``io``).

    Args:
        modality: Modality (``CT``, ``PT``, ``MR``), if known.
        image: the study, series and instances the volume was read from.
        slice_thickness_mm: SliceThickness (0018,0050), if given.
        study_date: StudyDate (0008,0020), if given.
        patient_id: PatientID (0010,0020), if given.
        birth_date: PatientBirthDate (0010,0030), if given.
        source_files: the DICOM files the volume was read from (SR and SEG
            exports reference them), sorted.

    Example:
        >>> AcquisitionInfo(modality="CT", slice_thickness_mm=1.25).slice_thickness_mm
        1.25
    """

    modality: str | None = None
    image: ImageReference | None = None
    slice_thickness_mm: float | None = None
    study_date: date | None = None
    patient_id: str | None = None
    birth_date: date | None = None
    source_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_files", tuple(str(f) for f in self.source_files))
        t = self.slice_thickness_mm
        if t is not None and (
            isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t <= 0
        ):
            raise InputError("SliceThickness must be a positive number of mm", value=t)
