"""Who and what an image belongs to: Patient, Study, Series (DICOM identities)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from radcycle.errors import InputError

__all__ = ["Patient", "Series", "Study", "validate_uid"]

# PS3.5 section 9.1: components of digits separated by '.', no leading zero in a
# component (except "0" itself), at most 64 characters.
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def validate_uid(uid: str, what: str = "UID") -> str:
    """Return ``uid`` if it is a syntactically valid DICOM UID, else raise.

    Example:
        >>> validate_uid("1.2.840.10008.1.2")
        '1.2.840.10008.1.2'
    """
    if not isinstance(uid, str) or len(uid) > 64 or not _UID_RE.match(uid):
        raise InputError(f"{what} is not a valid DICOM UID", value=uid)
    return uid


@dataclass(frozen=True)
class Patient:
    """A patient as DICOM names them (PatientID within an issuer)."""

    patient_id: str
    name: str = ""
    birth_date: date | None = None
    sex: str = ""
    issuer: str = ""

    def __post_init__(self) -> None:
        if self.sex not in ("", "M", "F", "O"):
            raise InputError("PatientSex must be M, F, O or empty", value=self.sex)


@dataclass(frozen=True)
class Series:
    """One DICOM series: SeriesInstanceUID plus what describes it."""

    series_instance_uid: str
    modality: str = ""
    description: str = ""
    number: int | None = None
    frame_of_reference_uid: str = ""

    def __post_init__(self) -> None:
        validate_uid(self.series_instance_uid, "SeriesInstanceUID")


@dataclass(frozen=True)
class Study:
    """One DICOM study: StudyInstanceUID, date, and its series."""

    study_instance_uid: str
    study_date: date | None = None
    description: str = ""
    accession_number: str = ""
    patient: Patient | None = None
    series: tuple[Series, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        validate_uid(self.study_instance_uid, "StudyInstanceUID")
