"""Facts: everything a report may state, each with a stable id and its evidence.

A :class:`Fact` is one measured value, comparison, guideline result, record item,
prior-report finding or technique detail. Its :class:`FactProvenance` says where it
came from (images, algorithm, rule, mask, FHIR resource, prior report). Report
sentences cite fact ids; the verifier checks each sentence against them.

A :class:`Lesion` is one tracked lesion with its per-time-point
:class:`~radcycle.domain.measurement.Measurement` records.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from radcycle.domain.identity import validate_uid
from radcycle.domain.measurement import Measurement, MeasurementName
from radcycle.domain.provenance import AlgorithmRecord, ImageReference, RuleRecord
from radcycle.errors import InputError

__all__ = ["Fact", "FactKind", "FactProvenance", "FactValue", "Lesion"]

FactValue = str | float | int | bool | None

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


class FactKind(StrEnum):
    """What a fact is about."""

    MEASUREMENT = "measurement"
    COMPARISON = "comparison"
    RESPONSE = "response"
    GUIDELINE = "guideline"
    LESION = "lesion"
    RECORD = "record"
    PRIOR_FINDING = "prior_finding"
    TECHNIQUE = "technique"


@dataclass(frozen=True)
class FactProvenance:
    """Where a fact came from.

    Args:
        images: the images it was derived from.
        algorithm: the algorithm that computed it.
        rule: the guideline rule it applies.
        mask: the mask it was measured on (a file name or segment label).
        fhir_resource: the FHIR resource it was read from (``Type/id``).
        prior_report: the prior report it was mined from (a path).

    Example:
        >>> FactProvenance(fhir_resource="MedicationRequest/m1").to_dict()["fhir_resource"]
        'MedicationRequest/m1'
    """

    images: tuple[ImageReference, ...] = ()
    algorithm: AlgorithmRecord | None = None
    rule: RuleRecord | None = None
    mask: str | None = None
    fhir_resource: str | None = None
    prior_report: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", tuple(self.images))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "images": [ref.to_dict() for ref in self.images],
            "algorithm": None if self.algorithm is None else self.algorithm.to_dict(),
            "rule": None if self.rule is None else self.rule.to_dict(),
            "mask": self.mask,
            "fhir_resource": self.fhir_resource,
            "prior_report": self.prior_report,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FactProvenance:
        """Rebuild from :meth:`to_dict` output."""
        algorithm, rule = data.get("algorithm"), data.get("rule")
        return cls(
            images=tuple(ImageReference.from_dict(i) for i in data.get("images") or ()),
            algorithm=None if algorithm is None else AlgorithmRecord.from_dict(algorithm),
            rule=None if rule is None else RuleRecord.from_dict(rule),
            mask=data.get("mask"),
            fhir_resource=data.get("fhir_resource"),
            prior_report=data.get("prior_report"),
        )


@dataclass(frozen=True)
class Fact:
    """One thing a report may state.

    Args:
        id: stable id (letters, digits, ``.``, ``_``, ``:``, ``-``), e.g.
            ``"f-L1-2024-01-05-long_axis"``.
        kind: what the fact is about.
        value: the value (text, number, flag) or None.
        unit: UCUM unit of a number, if any.
        tracking_uid: the lesion's TrackingUniqueIdentifier, where it has one.
        time_point: the study date (ISO) or time-point label, where it has one.
        provenance: where it came from.
        name: what the value is (``long_axis``, ``recist_response``, ``side`` ...).
        tracking_identifier: the lesion's TrackingIdentifier (``L1``), where it has one.

    Example:
        >>> f = Fact("f-1", "measurement", 12.0, "mm", None, "2024-01-05",
        ...          FactProvenance(), name="long_axis")
        >>> Fact.from_dict(f.to_dict()) == f
        True
    """

    id: str
    kind: FactKind
    value: FactValue
    unit: str | None
    tracking_uid: str | None
    time_point: str | None
    provenance: FactProvenance
    name: str = ""
    tracking_identifier: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise InputError("fact id must be letters, digits, '.', '_', ':' or '-'", value=self.id)
        try:
            object.__setattr__(self, "kind", FactKind(self.kind))
        except ValueError as exc:
            options = ", ".join(repr(k.value) for k in FactKind)
            raise InputError(f"fact kind must be one of {options}", value=self.kind) from exc
        value = self.value
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"fact {self.id}: value must be finite", value=value)
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InputError(f"fact {self.id}: value must be text, a number or a flag", value=value)
        if self.tracking_uid is not None:
            validate_uid(self.tracking_uid, "TrackingUniqueIdentifier")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (the ``facts`` items of report.json)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "tracking_identifier": self.tracking_identifier,
            "tracking_uid": self.tracking_uid,
            "time_point": self.time_point,
            "provenance": self.provenance.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fact:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(
                id=data["id"],
                kind=data["kind"],
                value=data.get("value"),
                unit=data.get("unit"),
                tracking_uid=data.get("tracking_uid"),
                time_point=data.get("time_point"),
                provenance=FactProvenance.from_dict(data.get("provenance") or {}),
                name=data.get("name", ""),
                tracking_identifier=data.get("tracking_identifier"),
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"fact lacks field {exc}", value=dict(data)) from exc


@dataclass(frozen=True)
class Lesion:
    """One tracked lesion and its measurements at every time point.

    Args:
        tracking_identifier: TrackingIdentifier (``L1``), the same at every time point.
        tracking_uid: TrackingUniqueIdentifier (a DICOM UID).
        organ: organ or site (``lung``, ``liver``, ``lymph node`` ...).
        laterality: ``left``, ``right`` or None.
        lobe: lung lobe (``RUL`` ...) or None.
        kind: ``solid``, ``part-solid``, ``ground-glass``, ``mass``, ``lymph node`` ... or None.
        measurements: the Measurements of this lesion, any time point.

    Example:
        >>> les = Lesion("L1", "2.25.7", organ="lung", laterality="right", lobe="RUL")
        >>> les.values_at("t1")
        {}
    """

    tracking_identifier: str
    tracking_uid: str
    organ: str = "lung"
    laterality: str | None = None
    lobe: str | None = None
    kind: str | None = None
    measurements: tuple[Measurement, ...] = field(default=())

    def __post_init__(self) -> None:
        validate_uid(self.tracking_uid, "TrackingUniqueIdentifier")
        object.__setattr__(self, "measurements", tuple(self.measurements))
        for m in self.measurements:
            if (m.tracking_identifier, m.tracking_uid) != (
                self.tracking_identifier,
                self.tracking_uid,
            ):
                raise InputError(
                    f"lesion {self.tracking_identifier}: a measurement of another lesion",
                    value=m.tracking_identifier,
                )

    def time_points(self) -> tuple[str, ...]:
        """The time points this lesion has measurements at, in first-seen order."""
        return tuple(dict.fromkeys(m.time_point for m in self.measurements))

    def at(self, time_point: str) -> tuple[Measurement, ...]:
        """The measurements at one time point."""
        return tuple(m for m in self.measurements if m.time_point == time_point)

    def values_at(self, time_point: str) -> dict[MeasurementName, float | None]:
        """Name -> value at one time point (None where not measured)."""
        return {m.name: m.value for m in self.at(time_point)}
