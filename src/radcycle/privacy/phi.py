"""Identifying strings found in a DICOM data set, and a matcher for them.

Used twice: the de-identifier removes these strings from free text it keeps
(Clean Descriptors, Clean Structured Content, and as a safety net in text
attributes outside Table E.1-1), and the leak checker looks for them in output.

Example:
    >>> matcher = PhiMatcher({"SMITH", "20240102"})
    >>> matcher.find("CT chest smith 2024-01-02 follow-up")
    ['smith', '2024-01-02']
    >>> matcher.scrub("CT chest smith")
    'CT chest *****'
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

__all__ = [
    "PLACEHOLDERS",
    "PhiMatcher",
    "date_variants",
    "identifying_strings",
    "identifying_strings_by_kind",
    "iter_elements",
    "lenient",
]

# Shortest identifier we look for: shorter strings ("M", "12") occur by chance.
MIN_LENGTH = 3
# Longest: a longer value (a whole report) is not a useful needle.
MAX_LENGTH = 200

# Values that identify nobody; the de-identifier writes some of them as dummies.
PLACEHOLDERS = frozenset(
    {
        "ANONYMOUS",
        "ANONYMIZED",
        "ANONYMISED",
        "ANON",
        "REMOVED",
        "UNKNOWN",
        "NONE",
        "N/A",
        "NULL",
        "TEST",
        "PSEUDONYM",
        "PATIENT",
        "DOCTOR",
        "PHYSICIAN",
        "DR.",
        "MR.",
        "MRS.",
        "19000101",
    }
)

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

_TEXT_VRS = frozenset({"PN", "LO", "SH", "ST", "LT", "UT", "UC", "CS", "AE", "DA", "DT"})
_NAME_SPLIT = re.compile(r"[\^=\s,]+")


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


def _values(ds: Dataset, keyword: str) -> list[str]:
    if keyword not in ds:
        return []
    value = ds[keyword].value
    if value is None:
        return []
    items = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    return [str(v).strip() for v in items if str(v).strip()]


def _keywords_in_tree(ds: Dataset, keywords: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for item in _datasets(ds):
        for keyword in keywords:
            found.update(_values(item, keyword))
    return found


def _datasets(ds: Dataset) -> Iterator[Dataset]:
    yield ds
    for elem in ds:
        if elem.VR == "SQ" and elem.value is not None:
            for item in elem.value:
                yield from _datasets(item)


def identifying_strings_by_kind(ds: Dataset) -> dict[str, set[str]]:
    """Identifying strings of ``ds`` sorted by kind.

    Kinds: ``identity`` (person names whole and by component, identifiers, the birth
    date), ``visit_date`` (study, series, acquisition and content dates) and
    ``institution`` (name, address, department). Values shorter than three
    characters and placeholders (``ANONYMOUS``...) are left out.
    """
    identity: set[str] = set()
    for _path, elem in iter_elements(ds):
        if elem.VR == "PN" and elem.value is not None:
            values = elem.value if elem.VM > 1 else [elem.value]
            for name in values:
                text = str(name).strip()
                identity.add(text)
                identity.update(_NAME_SPLIT.split(text))
    identity |= _keywords_in_tree(ds, IDENTIFIER_KEYWORDS)
    for date in _keywords_in_tree(ds, BIRTH_DATE_KEYWORDS):
        identity |= date_variants(date) or {date}
    visit: set[str] = set()
    for date in _keywords_in_tree(ds, VISIT_DATE_KEYWORDS):
        visit |= date_variants(date) or {date}
    kinds = {
        "identity": identity,
        "visit_date": visit,
        "institution": _keywords_in_tree(ds, INSTITUTION_KEYWORDS),
    }
    return {kind: {s for s in found if _is_identifying(s)} for kind, found in kinds.items()}


def _is_identifying(text: str) -> bool:
    return (
        MIN_LENGTH <= len(text) <= MAX_LENGTH
        and text.upper() not in PLACEHOLDERS
        and any(ch.isalnum() for ch in text)
    )


def identifying_strings(
    ds: Dataset, *, visit_dates: bool = True, institution: bool = True
) -> set[str]:
    """Identifying strings of ``ds`` (see :func:`identifying_strings_by_kind`).

    Args:
        ds: the original data set.
        visit_dates: include the study, series, acquisition and content dates.
        institution: include institution name, address and department.
    """
    kinds = identifying_strings_by_kind(ds)
    found = set(kinds["identity"])
    if visit_dates:
        found |= kinds["visit_date"]
    if institution:
        found |= kinds["institution"]
    return found


@dataclass(frozen=True)
class PhiMatcher:
    """Case-insensitive whole-token search for a set of identifying strings.

    A match must not be glued to letters or digits on either side, so the name
    ``ANN`` is not found inside ``SCANNER``.
    """

    needles: frozenset[str]
    _pattern: re.Pattern[str] | None

    def __init__(self, needles: Iterable[str]) -> None:
        clean = frozenset(n.upper() for n in needles if MIN_LENGTH <= len(n) <= MAX_LENGTH)
        object.__setattr__(self, "needles", clean)
        pattern = None
        if clean:
            body = _trie_regex(sorted(clean))
            pattern = re.compile(f"(?<![A-Za-z0-9])(?:{body})(?![A-Za-z0-9])", re.IGNORECASE)
        object.__setattr__(self, "_pattern", pattern)

    def find(self, text: str) -> list[str]:
        """The identifying strings found in ``text``, as they are spelled there."""
        if self._pattern is None or not text:
            return []
        return [m.group(0) for m in self._pattern.finditer(text)]

    def scrub(self, text: str) -> str:
        """``text`` with every identifying string replaced by asterisks of equal length."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: "*" * len(m.group(0)), text)


def _trie_regex(words: list[str]) -> str:
    """One regular expression matching any of ``words``, factored by common prefixes.

    A plain alternation of thousands of UIDs is slow in Python's backtracking engine;
    a prefix tree keeps each match attempt proportional to the word length.
    """
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _emit(trie)


def _emit(node: dict) -> str:  # type: ignore[type-arg]
    branches = []
    for char, child in sorted(node.items()):
        if not char:
            continue
        # Collapse a chain of single children into one literal (keeps recursion shallow).
        literal = char
        while len(child) == 1 and "" not in child:
            ((next_char, child),) = child.items()
            literal += next_char
        branches.append(re.escape(literal) + _emit(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body
