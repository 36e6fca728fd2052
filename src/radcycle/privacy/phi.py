"""Identifying strings found in a DICOM data set, and a matcher for them.

Used twice: the de-identifier masks these strings in the text it keeps (Clean
Descriptors, Clean Structured Content, safe-listed text outside Table E.1-1), and
the leak checker looks for them in output (see :mod:`radcycle.privacy.matcher`).

Example:
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.PatientName, ds.PatientID, ds.StudyDate = "Li^Bo", "MRN-1", "20240102"
    >>> matcher = identifying_strings(ds).matcher()
    >>> matcher.find("CT chest BO LI 2024-01-02 follow-up, MRN-1")
    ['BO LI', '2024-01-02', 'MRN-1']
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from pydicom import config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from radcycle.privacy.matcher import (
    MAX_LENGTH,
    MIN_LENGTH,
    PLACEHOLDERS,
    PhiMatcher,
    cached_matcher,
)

__all__ = [
    "PLACEHOLDERS",
    "Identifiers",
    "PhiMatcher",
    "cached_matcher",
    "date_variants",
    "element_vr",
    "identifying_strings",
    "identifying_strings_by_kind",
    "iter_elements",
    "lenient",
    "simple_charset",
    "text_values",
]


# Attributes whose values identify a person or a visit (PS3.15 E.1: direct identifiers).
IDENTIFIER_KEYWORDS = (
    "PatientID",
    "OtherPatientIDs",
    "AccessionNumber",
    "StudyID",
    "MedicalRecordLocator",
    "AdmissionID",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientTelecomInformation",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "MilitaryRank",
    "InsurancePlanIdentification",
    "ClinicalTrialSubjectID",
    "ClinicalTrialSubjectReadingID",
    "RequestedProcedureID",
    "PerformedProcedureStepID",
    "ScheduledProcedureStepID",
    "FillerOrderNumberImagingServiceRequest",
    "PlacerOrderNumberImagingServiceRequest",
    "PersonAddress",
    "PersonTelephoneNumbers",
    "PersonTelecomInformation",
    "RegionOfResidence",
    "ResponsibleOrganization",
)
INSTITUTION_KEYWORDS = ("InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName")
BIRTH_DATE_KEYWORDS = ("PatientBirthDate",)
VISIT_DATE_KEYWORDS = (
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "InstanceCreationDate",
    "PerformedProcedureStepStartDate",
)


@contextlib.contextmanager
def lenient() -> Iterator[None]:
    """Read real-world values as they are: no validation errors, no warnings.

    Invalid values (an IS of ``"1A"``, a UID with a leading zero) are common in
    archives; de-identification and leak checking must still see them.
    """
    previous = config.settings.reading_validation_mode
    config.settings.reading_validation_mode = config.IGNORE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        config.settings.reading_validation_mode = previous


def iter_elements(ds: Dataset, path: str = "") -> Iterator[tuple[str, DataElement]]:
    """Every data element of ``ds``, nested sequences included, with a tag path.

    Yields:
        ``(path, element)`` pairs; the path reads like ``(0040,A730)[0]/(0040,A160)``.
    """
    for elem in ds:
        here = f"{path}/({elem.tag.group:04X},{elem.tag.element:04X})".lstrip("/")
        yield here, elem
        if elem.VR == "SQ" and elem.value is not None:
            for index, item in enumerate(elem.value):
                yield from iter_elements(item, f"{here}[{index}]")


def date_variants(value: str) -> set[str]:
    """Spellings of a DICOM date ``YYYYMMDD`` seen in free text."""
    if len(value) != 8 or not value.isdigit():
        return set()
    y, m, d = value[:4], value[4:6], value[6:]
    return {value, f"{y}-{m}-{d}", f"{y}/{m}/{d}", f"{d}/{m}/{y}", f"{d}.{m}.{y}"}


def element_vr(ds: Dataset, tag: int) -> str:
    """The VR of ``ds[tag]`` without decoding its value (cheap for pixel data).

    Implicit-VR files and UN elements of known tags get the dictionary VR.
    """
    raw = ds.get_item(tag)
    vr = raw.VR if raw is not None else None
    if vr is None or vr == "UN":
        try:
            return str(dictionary_VR(tag))
        except KeyError:
            return "UN"
    return str(vr)


# Character sets whose bytes decode without pydicom's converters (PS3.5 6.1.2.5.3).
_SIMPLE_CHARSETS: dict[bytes, str] = {
    b"": "latin-1",
    b"ISO_IR 6": "latin-1",
    b"ISO_IR 100": "latin-1",
    b"ISO_IR 192": "utf-8",
}


def simple_charset(ds: Dataset, inherited: str | None = "latin-1") -> str | None:
    """The codec for ``ds``'s text when it needs no escape handling, else None.

    A sequence item without its own Specific Character Set inherits its parent's.
    """
    raw = ds.get_item(0x00080005)
    if raw is None:
        return inherited
    value = raw.value if isinstance(raw.value, bytes) else str(raw.value or "").encode()
    return _SIMPLE_CHARSETS.get(value.strip(b" \x00"))


def text_values(ds: Dataset, tag: int, codec: str | None) -> list[str]:
    """The values of a string element, decoded straight from the file when simple.

    Decoding the raw bytes avoids pydicom's per-VR conversion, the main cost of
    de-identifying small files; other character sets go through pydicom.
    """
    raw = ds.get_item(tag)
    if raw is None:
        return []
    if codec is not None and raw.is_raw and isinstance(raw.value, bytes):
        text = raw.value.decode(codec, errors="replace")
        return [v.strip(" \x00") for v in text.split("\\")] if text.strip(" \x00") else []
    return _strings(ds[tag])


def _strings(elem: DataElement) -> list[str]:
    value = elem.value
    if value is None:
        return []
    items = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    return [str(v).strip() for v in items if str(v).strip()]


_KIND_BY_KEYWORD = (
    [(k, "identity") for k in IDENTIFIER_KEYWORDS]
    + [(k, "birth") for k in BIRTH_DATE_KEYWORDS]
    + [(k, "visit_date") for k in VISIT_DATE_KEYWORDS]
    + [(k, "institution") for k in INSTITUTION_KEYWORDS]
)
_KIND_OF_TAG: dict[int, str] = {int(tag_for_keyword(k) or 0): kind for k, kind in _KIND_BY_KEYWORD}


# Versions of coding resources and templates: dates of documents, not of a patient.
_VERSION_DATES = frozenset({0x00080106, 0x00080107, 0x0040DB06, 0x0040DB07})
_DIGITS = re.compile(r"[0-9]")
_PARTS = re.compile(r"[,;\n\r^]+")


def _collect(ds: Dataset, found: dict[str, set[str]], codec: str | None = "latin-1") -> None:
    """One pass over ``ds`` (and its sequences), decoding only what can identify."""
    codec = simple_charset(ds, codec)
    for tag in ds.keys():  # noqa: SIM118 - tags, not decoded elements
        if tag.is_private:
            continue
        kind = _KIND_OF_TAG.get(int(tag))
        vr = element_vr(ds, tag)
        if vr == "SQ":
            for item in ds[tag].value or []:
                _collect(item, found, codec)
        elif vr == "PN":
            found["name"].update(text_values(ds, tag, codec))
        elif kind is not None:
            found[kind].update(text_values(ds, tag, codec))
        elif vr in ("DA", "DT") and int(tag) not in _VERSION_DATES:
            found["visit_date"].update(v[:8] for v in text_values(ds, tag, codec))


def _variants(text: str) -> set[str]:
    """``text``, its parts (an address line by line), and a phone number's digits."""
    found = {text} | {p.strip() for p in _PARTS.split(text)}
    digits = "".join(_DIGITS.findall(text))
    if len(digits) >= 7:
        found.add(digits)
        if text.startswith("+") and " " in text:  # +44 20 7946 0958 -> 020 7946 0958
            national = "0" + text.split(" ", 1)[1].strip()
            found |= {national, "".join(_DIGITS.findall(national))}
    return found


def identifying_strings_by_kind(ds: Dataset) -> dict[str, set[str]]:
    """Identifying strings of ``ds`` sorted by kind.

    Kinds: ``identity`` (identifiers, telephone numbers, addresses, the birth date),
    ``name`` (every person name, whole, as a PN value), ``visit_date`` (every other
    date of the file, study, series, acquisition and content dates included) and
    ``institution`` (name, address, department). Identifiers shorter than three
    characters and placeholders (``ANONYMOUS``...) are left out.
    """
    found: dict[str, set[str]] = {
        k: set() for k in ("identity", "name", "birth", "visit_date", "institution")
    }
    _collect(ds, found)
    for date in found.pop("birth"):
        found["identity"] |= date_variants(date) or {date}
    found["visit_date"] -= found["identity"]
    for date in list(found["visit_date"]):
        found["visit_date"] |= date_variants(date)
    found["identity"] = set().union(*(_variants(s) for s in found["identity"]))
    names = {n for n in found.pop("name") if n.strip("^= ").upper() not in PLACEHOLDERS}
    kinds = {kind: {s for s in strings if _is_identifying(s)} for kind, strings in found.items()}
    kinds["name"] = {n for n in names if n.strip("^= ")}
    return kinds


def _is_identifying(text: str) -> bool:
    return (
        MIN_LENGTH <= len(text) <= MAX_LENGTH
        and text.upper() not in PLACEHOLDERS
        and any(ch.isalnum() for ch in text)
    )


@dataclass(frozen=True)
class Identifiers:
    """The identifying strings of one data set: needles and person names."""

    needles: frozenset[str]
    names: frozenset[str]

    def matcher(self) -> PhiMatcher:
        """The (cached) matcher for these strings."""
        return cached_matcher(self.needles, self.names)


def identifying_strings(
    ds: Dataset, *, visit_dates: bool = True, institution: bool = True
) -> Identifiers:
    """Identifying strings of ``ds`` (see :func:`identifying_strings_by_kind`).

    Args:
        ds: the original data set.
        visit_dates: include the dates of the file (other than the birth date).
        institution: include institution name, address and department.
    """
    kinds = identifying_strings_by_kind(ds)
    found = set(kinds["identity"])
    if visit_dates:
        found |= kinds["visit_date"]
    if institution:
        found |= kinds["institution"]
    return Identifiers(frozenset(found), frozenset(kinds["name"]))
