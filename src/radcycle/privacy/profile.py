"""The attribute action table of DICOM PS3.15 Annex E (Table E.1-1) and its options.

The table itself is data (``profile_table.csv`` beside this module): one row per
attribute with its tag (or a group mask such as ``(60xx,3000)``), the Basic
Application Level Confidentiality Profile action, and the options under which the
action becomes K (keep) or C (clean). :func:`resolve_action` turns a row and the
chosen :class:`DeidOptions` into one of the single actions D, Z, X, K, C, U.

Example:
    >>> profile = load_profile()
    >>> profile.action_for(0x00080050, DeidOptions())
    'Z'
    >>> profile.action_for(0x00080020, DeidOptions(dates="modified"))
    'C'
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from radcycle.errors import DataFormatError

__all__ = [
    "ACTIONS",
    "DateMode",
    "DeidOptions",
    "Profile",
    "ProfileRow",
    "cached_actions",
    "load_profile",
    "resolve_action",
]

ACTIONS = frozenset({"D", "Z", "X", "K", "C", "U"})

DateMode = Literal["remove", "full", "modified"]

# PS3.15 E.3.1: the combined actions are resolved to the single action that is
# conformant for every attribute type (X/Z and Z/D keep the attribute present for
# type 2; X/D and X/Z/D keep a dummy for type 1; X/Z/U* keeps a sequence of
# references whose UIDs are replaced).
# Patient's Name (0010,0010) and Patient ID (0010,0020): keyed pseudonyms (D).
PSEUDONYMISED: dict[int, str] = {0x00100010: "D", 0x00100020: "D"}

_COMBINED: dict[str, str] = {
    "X/Z": "Z",
    "Z/D": "Z",
    "X/D": "D",
    "X/Z/D": "D",
    "X/Z/U*": "U",
}


@dataclass(frozen=True)
class DeidOptions:
    """The Annex E options chosen for one de-identification run.

    Attributes:
        dates: Retain Longitudinal Temporal Information: ``"remove"`` (no option),
            ``"full"`` (Full Dates option) or ``"modified"`` (Modified Dates: each
            patient's dates shifted by a keyed number of days, intervals kept).
        retain_patient_chars: Retain Patient Characteristics (age, sex, size, ...).
        retain_device: Retain Device Identity (serial numbers, station names).
        retain_institution: Retain Institution Identity.
        retain_uids: Retain UIDs (no remapping).
        retain_safe_private: keep private attributes of the safe list.
        clean_descriptors: Clean Descriptors: keep free-text descriptions with the
            identifiers found in the same file removed.
        clean_structured: Clean Structured Content (SR content tree text values).
        clean_pixel_data: Clean Pixel Data (see :mod:`radcycle.privacy.pixels`).
        birth_date: FHIR ``birthDate``: ``"shift"`` with the patient's shift, or
            ``"year"`` (reduced to the year), or ``"remove"``.
    """

    dates: DateMode = "remove"
    retain_patient_chars: bool = False
    retain_device: bool = False
    retain_institution: bool = False
    retain_uids: bool = False
    retain_safe_private: bool = False
    clean_descriptors: bool = False
    clean_structured: bool = False
    clean_pixel_data: bool = False
    birth_date: Literal["shift", "year", "remove"] = "year"

    def __post_init__(self) -> None:
        if self.dates not in ("remove", "full", "modified"):
            raise DataFormatError("dates must be one of remove, full, modified", value=self.dates)
        if self.birth_date not in ("shift", "year", "remove"):
            raise DataFormatError(
                "birth_date must be one of shift, year, remove", value=self.birth_date
            )

    def active(self) -> frozenset[str]:
        """Names of the option columns of the table that are switched on."""
        names = {
            "retain_long_full": self.dates == "full",
            "retain_long_modified": self.dates == "modified",
            "retain_patient_chars": self.retain_patient_chars,
            "retain_device": self.retain_device,
            "retain_institution": self.retain_institution,
            "retain_uids": self.retain_uids,
            "clean_descriptors": self.clean_descriptors,
            "clean_structured": self.clean_structured,
        }
        return frozenset(name for name, on in names.items() if on)


@dataclass(frozen=True)
class ProfileRow:
    """One row of Table E.1-1."""

    tag: int
    mask: int
    name: str
    vr: str
    basic: str
    keep_with: frozenset[str] = field(default_factory=frozenset)
    clean_with: frozenset[str] = field(default_factory=frozenset)

    def matches(self, tag: int) -> bool:
        """True where ``tag`` is this row's tag (under its group mask, if any)."""
        return (tag & self.mask) == self.tag


def resolve_action(row: ProfileRow, active: frozenset[str]) -> str:
    """The single action for ``row`` under the active option columns.

    An option that says K wins over one that says C (PS3.15 E.3: an option can only
    retain more); with no option the basic action applies, combined actions
    resolved as in :data:`_COMBINED`.

    Example:
        >>> row = ProfileRow(0x00080080, 0xFFFFFFFF, "Institution Name", "LO", "X/Z/D",
        ...                  frozenset({"retain_institution"}))
        >>> resolve_action(row, frozenset()), resolve_action(row, frozenset({"retain_institution"}))
        ('D', 'K')
    """
    if row.keep_with & active:
        return "K"
    if row.clean_with & active:
        return "C"
    return _COMBINED.get(row.basic, row.basic)


@dataclass(frozen=True, eq=False)
class Profile:
    """Table E.1-1 as rows, indexed by exact tag, with the masked rows apart."""

    rows: tuple[ProfileRow, ...]

    @functools.cached_property
    def _exact(self) -> dict[int, ProfileRow]:
        return {r.tag: r for r in self.rows if r.mask == 0xFFFFFFFF}

    @functools.cached_property
    def _masked(self) -> tuple[ProfileRow, ...]:
        return tuple(r for r in self.rows if r.mask != 0xFFFFFFFF)

    def row_for(self, tag: int) -> ProfileRow | None:
        """The row that governs ``tag``, or None for an attribute not in the table."""
        row = self._exact.get(tag)
        if row is not None:
            return row
        for masked in self._masked:
            if masked.matches(tag):
                return masked
        return None

    def action_for(self, tag: int, options: DeidOptions) -> str | None:
        """The resolved action for ``tag`` under ``options`` (None: not in the table)."""
        row = self.row_for(tag)
        return None if row is None else resolve_action(row, options.active())

    def actions(self, options: DeidOptions) -> dict[int, str]:
        """Resolved actions of every exact-tag row, for fast lookup while walking.

        Patient's Name and Patient ID resolve to D: radcycle replaces them with keyed
        pseudonyms (a dummy value in the sense of E.3), so follow-up stays linkable.
        """
        active = options.active()
        resolved = {tag: resolve_action(row, active) for tag, row in self._exact.items()}
        resolved.update(PSEUDONYMISED)
        return resolved


@functools.lru_cache(maxsize=32)
def cached_actions(options: DeidOptions) -> dict[int, str]:
    """:meth:`Profile.actions` of the packaged table, computed once per options.

    The dictionary is shared: read it, never change it.
    """
    return load_profile().actions(options)


def _split(text: str) -> frozenset[str]:
    return frozenset(part for part in text.split(";") if part)


@functools.cache
def load_profile() -> Profile:
    """Load the packaged Table E.1-1 (cached).

    Raises:
        DataFormatError: if the packaged table is malformed.
    """
    source = resources.files("radcycle.privacy").joinpath("profile_table.csv")
    rows: list[ProfileRow] = []
    with source.open("r", encoding="utf-8") as handle:
        for line, record in enumerate(csv.DictReader(handle), start=2):
            try:
                row = ProfileRow(
                    tag=int(record["tag"], 16),
                    mask=int(record["mask"], 16),
                    name=record["name"],
                    vr=record["vr"],
                    basic=record["basic"],
                    keep_with=_split(record["keep_with"]),
                    clean_with=_split(record["clean_with"]),
                )
            except (KeyError, ValueError) as exc:
                raise DataFormatError(
                    f"malformed row {line} in profile_table.csv", value=record
                ) from exc
            if _COMBINED.get(row.basic, row.basic) not in ACTIONS:
                raise DataFormatError(
                    f"unknown action in profile_table.csv row {line}", value=row.basic
                )
            rows.append(row)
    return Profile(tuple(rows))
