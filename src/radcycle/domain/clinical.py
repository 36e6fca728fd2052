"""Plain data of the clinical record: facts with provenance, and their timeline.

Every fact names the resource it comes from (``source``, e.g.
``"Observation/cea-1"`` for FHIR, ``"row 7"`` for CSV), so each statement built
on it can be traced back.

Example:
    >>> lab = LabResult("Observation/o1", date(2024, 1, 2), "2039-6", "CEA", 4.2, "ng/mL")
    >>> lab.above_reference is None, lab.kind
    (True, 'lab')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from radcycle.domain.identity import Patient

__all__ = [
    "ClinicalRecord",
    "Diagnosis",
    "ImagingStudyRef",
    "LabResult",
    "MedicationExposure",
    "ProcedureEvent",
    "RecordIssue",
    "ReportDocument",
    "TimelineEvent",
]


@dataclass(frozen=True)
class Diagnosis:
    """A condition: code, name, onset and stage as recorded."""

    source: str
    date: date | None
    code: str
    name: str
    stage: str = ""
    status: str = ""


@dataclass(frozen=True)
class LabResult:
    """An observation with a value: a lab, tumour marker, smoking status or genomic result.

    Attributes:
        kind: "lab", "tumour_marker", "smoking" or "genomic".
        value: the numeric value, when the result is a quantity.
        value_text: the coded or text result ("Former smoker", "L858R detected").
        reference_low: lower reference limit in the same unit.
        reference_high: upper reference limit in the same unit.
    """

    source: str
    date: date | None
    code: str
    name: str
    value: float | None = None
    unit: str = ""
    value_text: str = ""
    reference_low: float | None = None
    reference_high: float | None = None
    kind: str = "lab"

    @property
    def above_reference(self) -> bool | None:
        """True above the upper reference limit; None when either is missing."""
        if self.value is None or self.reference_high is None:
            return None
        return self.value > self.reference_high


@dataclass(frozen=True)
class MedicationExposure:
    """A medication given, ordered or taken over a period (end None: single date or ongoing)."""

    source: str
    start: date | None
    end: date | None
    name: str
    code: str = ""
    status: str = ""
    kind: str = "request"

    def __post_init__(self) -> None:
        # Readers turn a ValueError into an issue on the record (the row is kept out).
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"medication ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class ProcedureEvent:
    """A procedure: surgery, radiotherapy, biopsy."""

    source: str
    date: date | None
    code: str
    name: str
    category: str = ""


@dataclass(frozen=True)
class ReportDocument:
    """A prior report (radiology, pathology) with its text."""

    source: str
    date: date | None
    code: str
    title: str
    text: str
    category: str = ""


@dataclass(frozen=True)
class ImagingStudyRef:
    """An imaging study known to the record, identified by its StudyInstanceUID."""

    source: str
    date: date | None
    study_instance_uid: str
    modality: str = ""
    description: str = ""


@dataclass(frozen=True)
class RecordIssue:
    """A resource or row that could not be read; the rest of the record still loads.

    Attributes:
        resource_type: e.g. "Observation" (or "csv").
        resource_id: the resource's id, or the row number.
        message: what is wrong, naming the field.
    """

    resource_type: str
    resource_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.resource_id}: {self.message}"


@dataclass(frozen=True)
class ClinicalRecord:
    """One patient's record as read from a FHIR bundle or a CSV file."""

    patient: Patient | None = None
    patient_source: str = ""
    diagnoses: tuple[Diagnosis, ...] = ()
    labs: tuple[LabResult, ...] = ()
    medications: tuple[MedicationExposure, ...] = ()
    procedures: tuple[ProcedureEvent, ...] = ()
    reports: tuple[ReportDocument, ...] = ()
    studies: tuple[ImagingStudyRef, ...] = ()
    issues: tuple[RecordIssue, ...] = field(default=())


@dataclass(frozen=True)
class TimelineEvent:
    """One dated entry of a patient timeline, with the fact's source."""

    date: date | None
    kind: str
    summary: str
    source: str
