"""The leak checker: find identifying data left in de-identified DICOM output.

Two kinds of finding:

* profile leaks, found from the output alone: an attribute that Table E.1-1 (under
  the options the file itself declares in (0012,0064)) says must be removed (X) or
  emptied (Z) but still has a value; private attributes outside the safe list;
  curves and overlays; Patient Identity Removed not YES.
* original leaks, with ``originals``: any identifying string of the original files
  (names, identifiers, birth date, accession number, institution, visit dates when
  not retained, instance UIDs when not retained) found in any value at any depth,
  private attributes and SR text included, or in an output file name.

Example:
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.AccessionNumber = "ACC123"
    >>> [leak.kind for leak in check_dataset(ds, "a.dcm", Needles())]
    ['profile-Z', 'not-marked']
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from radcycle.errors import InputError
from radcycle.privacy.batch import iter_files, read_dicom
from radcycle.privacy.phi import PhiMatcher, identifying_strings_by_kind, iter_elements, lenient
from radcycle.privacy.private import safe_private_tags
from radcycle.privacy.profile import DateMode, DeidOptions, cached_actions, load_profile

__all__ = ["CheckReport", "Leak", "Needles", "check_dataset", "check_tree", "options_from_codes"]

# Numbers (IS, DS) and coded strings (CS) are not scanned: a series number 123456 is
# not the patient ID 123456. Neither are the manufacturer's names below.
_STRING_VRS = frozenset({"PN", "LO", "SH", "ST", "LT", "UT", "UC", "AE", "DA", "DT", "UI", "UR"})
# Code Value, Coding Scheme Designator, Code Meaning, Coding Scheme Name: coded concepts.
_NOT_SCANNED = frozenset(
    {
        0x00080070,
        0x00081090,
        0x00181020,
        0x00020013,
        0x00020012,
        0x00080100,
        0x00080102,
        0x00080104,
        0x00080115,
        0x00282000,
    }
)
_MAX_BYTES_SCANNED = 1 << 16
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})


@dataclass(frozen=True)
class Leak:
    """One finding: which file, where in it (tag path), what kind, what matched."""

    file: str
    path: str
    kind: str
    detail: str


@dataclass
class CheckReport:
    """All findings of a scan and how many DICOM files were scanned."""

    leaks: list[Leak] = field(default_factory=list)
    files_scanned: int = 0

    def to_json(self) -> dict[str, object]:
        """Plain data for ``--json`` output."""
        return {"files_scanned": self.files_scanned, "leaks": [asdict(x) for x in self.leaks]}


def options_from_codes(ds: Dataset) -> DeidOptions:
    """The Annex E options a file declares in De-identification Method Code Sequence."""
    codes = {
        str(item.get("CodeValue", "")) for item in ds.get("DeidentificationMethodCodeSequence", [])
    }
    dates: DateMode = "full" if "113106" in codes else "modified" if "113107" in codes else "remove"
    return DeidOptions(
        dates=dates,
        retain_patient_chars="113108" in codes,
        retain_device="113109" in codes,
        retain_uids="113110" in codes,
        retain_safe_private="113111" in codes,
        retain_institution="113112" in codes,
        clean_descriptors="113105" in codes,
        clean_structured="113104" in codes,
    )


@dataclass
class Needles:
    """Identifying strings of the originals, by kind, each with its matcher."""

    identity: set[str] = field(default_factory=set)
    visit_date: set[str] = field(default_factory=set)
    institution: set[str] = field(default_factory=set)
    uid: set[str] = field(default_factory=set)

    def add(self, ds: Dataset) -> None:
        """Collect the identifying strings and instance UIDs of an original data set."""
        with lenient():
            self._add(ds)

    def _add(self, ds: Dataset) -> None:
        for kind, found in identifying_strings_by_kind(ds).items():
            getattr(self, kind).update(found)
        u_tags = _uid_tags()
        for _path, elem in iter_elements(ds):
            if int(elem.tag) in u_tags and elem.value:
                values = elem.value if elem.VM > 1 else [elem.value]
                self.uid.update(str(v).strip() for v in values if str(v).strip())

    def matchers(self, options: DeidOptions) -> list[tuple[str, PhiMatcher]]:
        """The matchers that apply to an output made with ``options``."""
        chosen = [("identity", self.identity)]
        if options.dates != "full":
            chosen.append(("visit-date", self.visit_date))
        if not options.retain_institution:
            chosen.append(("institution", self.institution))
        if not options.retain_uids:
            chosen.append(("uid", self.uid))
        return [(kind, _matcher(frozenset(words))) for kind, words in chosen if words]


@functools.lru_cache(maxsize=16)
def _matcher(words: frozenset[str]) -> PhiMatcher:
    return PhiMatcher(words)


@functools.cache
def _uid_tags() -> frozenset[int]:
    profile = load_profile()
    return frozenset(
        r.tag for r in profile.rows if r.basic in ("U", "X/Z/U*") and r.mask == 0xFFFFFFFF
    )


def _text_of(elem: DataElement) -> str:
    value = elem.value
    if value is None or value in ("", b"") or int(elem.tag) in _PIXEL_TAGS:
        return ""
    if isinstance(value, bytes | bytearray):
        # Unknown (UN) and private byte values may hold text; public OB/OW are data.
        if elem.VR == "UN" or elem.tag.is_private:
            return bytes(value[:_MAX_BYTES_SCANNED]).decode("latin-1")
        return ""
    if elem.VR in _STRING_VRS:
        return "\\".join(str(v) for v in value) if elem.VM > 1 else str(value)
    return ""


def _profile_leaks(ds: Dataset, name: str, options: DeidOptions) -> Iterator[Leak]:
    actions = cached_actions(options)
    safe = safe_private_tags(ds) if options.retain_safe_private else set()
    for path, elem in iter_elements(ds):
        tag = elem.tag
        if tag.is_private:
            if int(tag) not in safe:
                yield Leak(name, path, "private", "private attribute present")
            continue
        if (tag.group & 0xFF00) in (0x5000, 0x6000):
            yield Leak(name, path, "curve-overlay", "curve or overlay attribute present")
            continue
        action = actions.get(int(tag))
        if (
            action in ("X", "Z")
            and elem.value not in (None, "", b"")
            and not (elem.VR == "SQ" and len(elem.value) == 0)
        ):
            yield Leak(
                name, path, f"profile-{action}", f"{elem.keyword or 'attribute'} has a value"
            )


def check_dataset(ds: Dataset, name: str, needles: Needles) -> list[Leak]:
    """All leaks of one output data set (``name`` is how the report calls the file)."""
    with lenient():
        return _check(ds, name, needles)


def _check(ds: Dataset, name: str, needles: Needles) -> list[Leak]:
    options = options_from_codes(ds)
    leaks = list(_profile_leaks(ds, name, options))
    if str(ds.get("PatientIdentityRemoved", "")).upper() != "YES":
        leaks.append(Leak(name, "(0012,0062)", "not-marked", "Patient Identity Removed is not YES"))
    matchers = needles.matchers(options)
    if matchers:
        u_tags = _uid_tags()
        for path, elem in iter_elements(ds):
            if int(elem.tag) in _NOT_SCANNED:
                continue
            text = _text_of(elem)
            if not text:
                continue
            for kind, matcher in matchers:
                if kind == "uid" and int(elem.tag) not in u_tags:
                    continue  # class UIDs and the like are not instance identifiers
                leaks.extend(
                    Leak(name, path, f"original-{kind}", hit) for hit in matcher.find(text)
                )
    return leaks


def collect_needles(originals: Path) -> Needles:
    """Identifying strings of every DICOM file below ``originals``."""
    needles = Needles()
    with lenient():
        for path in iter_files(originals):
            try:
                needles.add(read_dicom(path))
            except InputError:
                continue  # not DICOM, or broken: nothing to look for
    return needles


def check_tree(out: Path, originals: Path | None = None) -> CheckReport:
    """Scan every file below ``out`` (DICOM content and every file name)."""
    needles = collect_needles(originals) if originals is not None else Needles()
    report = CheckReport()
    with lenient():
        for path in iter_files(out):
            relative = str(path.relative_to(out)) if out.is_dir() else path.name
            try:
                ds = pydicom.dcmread(path)
            except Exception:  # not DICOM (summary, manifest, reasons): names only
                strict = needles.matchers(DeidOptions(dates="modified"))
                report.leaks.extend(_name_leaks(relative, strict))
                continue
            # A DICOM file's name is judged under the options the file declares
            # (with Retain UIDs, its original SOP Instance UID may name it).
            report.leaks.extend(_name_leaks(relative, needles.matchers(options_from_codes(ds))))
            report.files_scanned += 1
            report.leaks.extend(check_dataset(ds, relative, needles))
    return report


def _name_leaks(relative: str, matchers: Iterable[tuple[str, PhiMatcher]]) -> Iterator[Leak]:
    for kind, matcher in matchers:
        for hit in matcher.find(relative):
            yield Leak(relative, "file name", f"original-{kind}", hit)
