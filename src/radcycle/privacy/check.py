"""The leak checker: find identifying data left in de-identified output.

Every file below the output folder is looked at, and the report says which were
checked and which could not be:

* DICOM (with or without the Part-10 preamble) and FHIR JSON (a Bundle or any
  resource) are checked;
* radcycle's own run files (summary, encrypted manifest, quarantine reasons) have
  their names (and the text ones their content) checked; the run marker
  :data:`RUN_MARKER` means the de-identification run did not finish;
* anything else (text files, JSON that is not FHIR, broken files) is listed as not
  checked, with the reason.

Findings in DICOM, from the output alone: an attribute that Table E.1-1 (under
the options the file declares in (0012,0064)) says must be removed (X) or emptied
(Z) but still has a value; a public attribute outside the table that radcycle's
rule removes (:mod:`radcycle.privacy.unlisted`); SR free text (a TEXT content
item) without Clean Structured Content; private attributes outside the safe
list; curves and overlays; Patient Identity Removed not YES. In FHIR: names,
telecom, address, photo or contact; narrative; attachment data of a type that
cannot be checked. With ``originals``: every identifying string of the original
files (DICOM and FHIR: names in any order, case and separator, identifiers,
dates, also glued into DT values, institution, every instance UID at any depth)
searched in every value at any depth and in every output file name.

Example:
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.AccessionNumber = "ACC123"
    >>> [leak.kind for leak in check_dataset(ds, "a.dcm", Needles())]
    ['profile-Z', 'not-marked']
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from radcycle.privacy.batch import iter_files
from radcycle.privacy.fhir_deid import (
    DEID_TAG_SYSTEM,
    attachment_text,
    bundle_dates,
    personal_strings,
)
from radcycle.privacy.matcher import PhiMatcher
from radcycle.privacy.phi import identifying_strings_by_kind, iter_elements, lenient
from radcycle.privacy.private import safe_private_tags
from radcycle.privacy.profile import DateMode, DeidOptions, cached_actions
from radcycle.privacy.run_marker import MARKER_NAME
from radcycle.privacy.unlisted import is_instance_uid, unlisted_action

__all__ = [
    "RUN_MARKER",
    "CheckReport",
    "Leak",
    "Needles",
    "check_dataset",
    "check_fhir",
    "check_tree",
    "collect_needles",
    "fhir_strings",
    "options_from_codes",
    "read_any",
]

# Written first and removed last by `radcycle deid`: present means an unfinished run.
RUN_MARKER = MARKER_NAME
_OWN_FILES = frozenset({"deid-summary.json", "deid-manifest.enc"})
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
_VALUE_TYPE, _CONTENT = 0x0040A040, 0x0040A730
NOT_READABLE = "unreadable"
NOT_SUPPORTED = "not DICOM or FHIR JSON"
NOT_FHIR = "JSON that is not a FHIR resource"


@dataclass(frozen=True)
class Leak:
    """One finding: which file, where in it (tag or JSON path), what kind, what matched."""

    file: str
    path: str
    kind: str
    detail: str


@dataclass
class CheckReport:
    """Findings of a scan, what was checked and what could not be.

    Attributes:
        leaks: every finding.
        checked: file kind (``dicom``, ``fhir``, ``radcycle``) -> files checked.
        not_checked: reason -> files that could not be checked.
        unfinished_run: the de-identification run marker is present.
    """

    leaks: list[Leak] = field(default_factory=list)
    checked: dict[str, list[str]] = field(
        default_factory=lambda: {"dicom": [], "fhir": [], "radcycle": []}
    )
    not_checked: dict[str, list[str]] = field(default_factory=dict)
    unfinished_run: bool = False

    @property
    def files_scanned(self) -> int:
        """How many DICOM files were checked."""
        return len(self.checked["dicom"])

    def problems(self) -> list[str]:
        """Why the output cannot be called clean, besides the leaks."""
        found = []
        if self.unfinished_run:
            found.append(f"unfinished de-identification run ({RUN_MARKER} present)")
        if not self.checked["dicom"] and not self.checked["fhir"]:
            found.append("no DICOM or FHIR file was checked")
        for reason, files in sorted(self.not_checked.items()):
            found.append(f"{len(files)} file(s) not checked: {reason}")
        return found

    @property
    def clean(self) -> bool:
        """No leak, and every file was checked in a finished run."""
        return not self.leaks and not self.problems()

    def to_json(self) -> dict[str, object]:
        """Plain data for ``--json`` output."""
        return {
            "clean": self.clean,
            "files_scanned": self.files_scanned,
            "checked": {kind: len(files) for kind, files in self.checked.items()},
            "checked_files": self.checked,
            "not_checked": self.not_checked,
            "unfinished_run": self.unfinished_run,
            "problems": self.problems(),
            "leaks": [asdict(x) for x in self.leaks],
        }


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
    name: set[str] = field(default_factory=set)
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
        for _path, elem in iter_elements(ds):
            if elem.VR == "UI" and elem.value:
                values = elem.value if elem.VM > 1 else [elem.value]
                self.uid.update(
                    v
                    for v in (str(x).strip(" \x00") for x in values)
                    if is_instance_uid(elem.tag, v)
                )

    def matchers(self, options: DeidOptions) -> list[tuple[str, PhiMatcher]]:
        """The matchers that apply to an output made with ``options``."""
        chosen = [("identity", self.identity)]
        if options.dates != "full":
            chosen.append(("visit-date", self.visit_date))
        if not options.retain_institution:
            chosen.append(("institution", self.institution))
        if not options.retain_uids:
            chosen.append(("uid", self.uid))
        found = [(kind, _matcher(frozenset(words))) for kind, words in chosen if words]
        if self.name:
            found.append(("name", _matcher(frozenset(), frozenset(self.name))))
        return found


@functools.lru_cache(maxsize=16)
def _matcher(words: frozenset[str], names: frozenset[str] = frozenset()) -> PhiMatcher:
    return PhiMatcher(words, names)


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
        if tag.group == 0x0002 or tag.element == 0:
            continue  # file meta (rebuilt by the writer) and group lengths
        if _has_value(elem):
            yield from _value_leaks(name, path, elem, actions, options)


def _has_value(elem: DataElement) -> bool:
    return elem.value not in (None, "", b"") and not (elem.VR == "SQ" and len(elem.value) == 0)


def _value_leaks(
    name: str, path: str, elem: DataElement, actions: dict[int, str], options: DeidOptions
) -> Iterator[Leak]:
    action = actions.get(int(elem.tag))
    label = elem.keyword or "attribute"
    if action in ("X", "Z"):
        yield Leak(name, path, f"profile-{action}", f"{label} has a value")
    elif action is None and int(elem.tag) != 0x0040A160:
        rule = unlisted_action(int(elem.tag), elem.VR)
        if rule == "X" or (rule == "T" and options.dates == "remove"):
            yield Leak(name, path, "profile-unlisted", f"{label} ({elem.VR}) is not in the table")
    if int(elem.tag) == _CONTENT and not options.clean_structured:
        for index, item in enumerate(elem.value):
            if str(item.get(_VALUE_TYPE, "").value if _VALUE_TYPE in item else "") == "TEXT":
                yield Leak(name, f"{path}[{index}]", "sr-free-text", "TEXT content item")


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
        for path, elem in iter_elements(ds):
            if int(elem.tag) in _NOT_SCANNED:
                continue
            text = _text_of(elem)
            if text:
                leaks.extend(_matches(name, path, text, matchers))
    return leaks


def _matches(
    name: str, path: str, text: str, matchers: Iterable[tuple[str, PhiMatcher]]
) -> Iterator[Leak]:
    for kind, matcher in matchers:
        for hit in matcher.find(text):
            yield Leak(name, path, f"original-{kind}", hit)


def _looks_like_dicom(head: bytes) -> bool:
    """A Part-10 file, or a data set without preamble starting in group 0002 or 0008."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    group_le, group_be = int.from_bytes(head[:2], "little"), int.from_bytes(head[:2], "big")
    return group_le in (0x0002, 0x0008) or group_be == 0x0008


def _truncated(ds: Dataset, path: Path) -> bool:
    """True where the file ends before its last element does (pydicom reads on)."""
    tags = list(ds.keys())
    if not tags:
        return True
    last = ds.get_item(tags[-1])
    if not isinstance(last, RawDataElement):
        return False
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if last.length == 0xFFFFFFFF or (syntax is not None and syntax.is_deflated):
        return False  # a sequence of undefined length, or positions in a deflated stream
    return last.value_tell + last.length != path.stat().st_size


def _json_or_ndjson(text: str) -> Any:
    """Parsed JSON; NDJSON (one FHIR resource a line, as bulk export writes) as a Bundle."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        return None
    if not all(isinstance(r, dict) and "resourceType" in r for r in lines):
        return None
    return {"resourceType": "Bundle", "entry": [{"resource": r} for r in lines]}


def read_any(path: Path) -> tuple[str, Any]:
    """Read ``path`` as DICOM or FHIR JSON: ``("dicom", Dataset)``, ``("fhir", dict)``.

    Returns ``("", reason)`` for what cannot be read, the reason being one of
    :data:`NOT_SUPPORTED`, :data:`NOT_FHIR` or :data:`NOT_READABLE`.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError:
        return "", NOT_READABLE
    if _looks_like_dicom(head):
        try:
            with lenient():
                try:
                    ds = pydicom.dcmread(path)
                except InvalidDicomError:
                    ds = pydicom.dcmread(path, force=True)
        except Exception:  # pydicom raises many types on broken files
            return "", NOT_READABLE
        return ("", NOT_READABLE) if _truncated(ds, path) else ("dicom", ds)
    if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"["):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return "", NOT_READABLE
        data = _json_or_ndjson(text)
        if data is None:
            return "", NOT_READABLE
        if isinstance(data, dict) and isinstance(data.get("resourceType"), str):
            return "fhir", data
        return "", NOT_FHIR
    return "", NOT_SUPPORTED


def collect_needles(originals: Path) -> Needles:
    """Identifying strings of every DICOM and FHIR file below ``originals``."""
    needles = Needles()
    for path in iter_files(originals):
        kind, data = read_any(path)
        try:
            if kind == "dicom":
                needles.add(data)
            elif kind == "fhir":
                for kind_name, found in fhir_strings(data).items():
                    getattr(needles, kind_name).update(found)
        except Exception:
            continue
    return needles


def _is_own(relative: Path) -> bool:
    name = relative.name
    return (
        name in _OWN_FILES
        or name.startswith(".radcycle-")
        or (relative.parent.name == "quarantine" and name.endswith(".reason.txt"))
    )


def check_tree(out: Path, originals: Path | None = None) -> CheckReport:
    """Check every file below ``out`` and say what was and was not checked."""
    needles = collect_needles(originals) if originals is not None else Needles()
    strict = needles.matchers(DeidOptions(dates="modified"))
    report = CheckReport()
    for path in iter_files(out):
        relative = path.relative_to(out) if out.is_dir() else Path(path.name)
        name = str(relative)
        if _is_own(relative):
            report.unfinished_run |= relative.name == RUN_MARKER
            report.checked["radcycle"].append(name)
            report.leaks.extend(_own_file_leaks(path, name, strict))
            continue
        kind, data = read_any(path)
        leaks = _check_file(kind, data, name, needles) if kind else None
        if leaks is None:
            reason = str(data) if not kind else NOT_READABLE
            report.not_checked.setdefault(reason, []).append(name)
            report.leaks.extend(_matches(name, "file name", name, strict))
            continue
        report.checked[kind].append(name)
        report.leaks.extend(leaks)
    return report


def _check_file(kind: str, data: Any, name: str, needles: Needles) -> list[Leak] | None:
    """The leaks of one read file (name included), or None where a value cannot be read."""
    try:
        with lenient():
            # A DICOM file's name is judged under the options it declares (with
            # Retain UIDs, its original SOP Instance UID may name it).
            options = options_from_codes(data) if kind == "dicom" else DeidOptions(dates="modified")
            leaks = list(_matches(name, "file name", name, needles.matchers(options)))
            if kind == "dicom":
                return leaks + check_dataset(data, name, needles)
            return leaks + check_fhir(data, name, needles)
    except Exception:  # a value pydicom cannot decode: say so, never pass the file
        return None


def _own_file_leaks(path: Path, name: str, matchers: list[tuple[str, PhiMatcher]]) -> list[Leak]:
    leaks = list(_matches(name, "file name", name, matchers))
    if path.suffix in (".json", ".txt"):
        # Output names in the summary hold original UIDs under Retain UIDs.
        text = path.read_text(encoding="utf-8", errors="replace")
        leaks += _matches(name, "content", text, [m for m in matchers if m[0] != "uid"])
    return leaks


# ---- FHIR ------------------------------------------------------------------------

_PERSONAL = ("telecom", "address", "photo", "contact")


def _resources(data: dict[str, Any]) -> list[dict[str, Any]]:
    if data.get("resourceType") != "Bundle":
        return [data]
    entries = data.get("entry")
    if not isinstance(entries, list):
        return []
    return [
        e["resource"]
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]


def fhir_strings(data: dict[str, Any]) -> dict[str, set[str]]:
    """Identifying strings of an original FHIR Bundle or resource, by kind.

    Kinds as :class:`Needles`: person names, telecom, address parts, identifiers
    and birth dates; every other full date; OIDs and DICOM UIDs.
    """
    resources = _resources(data)
    identity, names = personal_strings(resources)
    found: dict[str, set[str]] = {
        "identity": identity,
        "name": names,
        "visit_date": set(),
        "uid": set(),
    }
    for res in resources:
        for ident in res.get("identifier", []) if isinstance(res.get("identifier"), list) else []:
            value = str(ident.get("value", "")) if isinstance(ident, dict) else ""
            if value.startswith("urn:oid:"):
                found["uid"].add(value[8:])
            elif len(value) >= 3:
                identity.add(value)
    found["visit_date"] = bundle_dates(resources) - identity
    return found


def check_fhir(data: dict[str, Any], name: str, needles: Needles) -> list[Leak]:
    """All leaks of one FHIR output (a Bundle or a resource)."""
    tags = data.get("meta", {}).get("tag", []) if isinstance(data.get("meta"), dict) else []
    full = any(
        isinstance(t, dict) and t.get("code") == "dates-full" and t.get("system") == DEID_TAG_SYSTEM
        for t in tags
    )
    matchers = needles.matchers(DeidOptions(dates="full" if full else "modified"))
    return list(_fhir_leaks(data, name, "", matchers))


def _fhir_leaks(
    node: Any, name: str, path: str, matchers: list[tuple[str, PhiMatcher]]
) -> Iterator[Leak]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _fhir_leaks(item, name, f"{path}[{index}]", matchers)
    elif isinstance(node, str):
        yield from _matches(name, path, node, matchers)
    elif isinstance(node, dict):
        yield from _fhir_profile(node, name, path)
        if isinstance(node.get("data"), str):
            text = attachment_text(node)
            if text is not None:
                yield from _matches(name, f"{path}.data", text, matchers)
        for key, value in node.items():
            if key != "data":
                yield from _fhir_leaks(value, name, f"{path}.{key}".lstrip("."), matchers)


def _fhir_profile(node: dict[str, Any], name: str, path: str) -> Iterator[Leak]:
    for key in _PERSONAL:
        if node.get(key):
            yield Leak(name, f"{path}.{key}".lstrip("."), "fhir-personal", f"{key} present")
    people = node.get("name")
    if isinstance(people, list) and any(isinstance(p, dict) for p in people):
        yield Leak(name, f"{path}.name".lstrip("."), "fhir-personal", "HumanName present")
    if "resourceType" in node and isinstance(node.get("text"), dict) and node["text"].get("div"):
        yield Leak(name, f"{path}.text".lstrip("."), "fhir-narrative", "narrative present")
    if (
        isinstance(node.get("data"), str)
        and "dimensions" not in node
        and attachment_text(node) is None
    ):
        kind = node.get("contentType", "no contentType")
        yield Leak(
            name,
            f"{path}.data".lstrip("."),
            "fhir-attachment",
            f"data of type {kind} cannot be checked",
        )
