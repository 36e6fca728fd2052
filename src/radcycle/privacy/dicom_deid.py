"""De-identify one DICOM data set with the PS3.15 Annex E Basic Profile and options.

Every attribute of Table E.1-1 gets its resolved action (D, Z, X, K, C, U), at any
depth inside sequences; a public attribute the table does not list gets the action
of :func:`~radcycle.privacy.unlisted.unlisted_action` (removed unless known safe;
UIDs remapped; dates shifted or removed). Private attributes are removed unless
safe-listed (Retain Safe Private), curves (50xx) and overlays (60xx) are removed,
UIDs are remapped with the keyed function of :class:`~radcycle.privacy.keys.DeidKey`
(the same original gets the same new UID in every file, so references stay
consistent), and the patient gets a keyed pseudonym. SR free text (content items
of value type TEXT, at any depth) is removed unless Clean Structured Content is
chosen. Text kept in the output (descriptions under Clean Descriptors, SR text
under Clean Structured Content, safe-listed text) has the identifying strings of
the same file masked, e-mail addresses and telephone numbers included.

Example:
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.PatientName, ds.PatientID, ds.StudyDate = "DOE^JANE", "MRN123", "20240102"
    >>> ds.SeriesDescription = "chest DOE"
    >>> key, clean = DeidKey(bytes(range(32))), DeidOptions(clean_descriptors=True)
    >>> result = deidentify_dataset(ds, key, clean)
    >>> str(result.dataset.PatientName).startswith("PSEUDONYM^"), result.dataset.StudyDate
    (True, '')
    >>> result.dataset.SeriesDescription
    'chest ***'
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from pydicom.charset import convert_encodings, encode_string
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import PersonName

from radcycle.privacy.keys import DeidKey
from radcycle.privacy.matcher import scrub_contacts
from radcycle.privacy.phi import (
    PhiMatcher,
    element_vr,
    identifying_strings,
    lenient,
    simple_charset,
    text_values,
)
from radcycle.privacy.pixels import burned_in_reason, clean_pixels
from radcycle.privacy.private import safe_private_tags
from radcycle.privacy.profile import DeidOptions, Profile, load_profile
from radcycle.privacy.unlisted import is_instance_uid, unlisted_action
from radcycle.privacy.writer import element_bytes, item_bytes

__all__ = ["METHOD_CODES", "DeidResult", "deidentify_dataset", "method_codes"]

# PS3.16 CID 7050 De-identification Method: DCM code -> meaning.
METHOD_CODES: dict[str, str] = {
    "113100": "Basic Application Confidentiality Profile",
    "113101": "Clean Pixel Data Option",
    "113104": "Clean Structured Content Option",
    "113105": "Clean Descriptors Option",
    "113106": "Retain Longitudinal Temporal Information Full Dates Option",
    "113107": "Retain Longitudinal Temporal Information Modified Dates Option",
    "113108": "Retain Patient Characteristics Option",
    "113109": "Retain Device Identity Option",
    "113110": "Retain UIDs Option",
    "113111": "Retain Safe Private Option",
    "113112": "Retain Institution Identity Option",
}

# Dummy values for action D, by VR (PS3.15 E.3: a non-zero-length value consistent
# with the VR). UI is remapped instead; SQ is de-identified item by item.
_DUMMY: dict[str, str | int | float] = {
    "PN": "ANONYMOUS",
    "LO": "ANONYMIZED",
    "SH": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "ST": "ANONYMIZED",
    "UT": "ANONYMIZED",
    "UC": "ANONYMIZED",
    "CS": "ANONYMIZED",
    "AE": "ANONYMOUS",
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "IS": "0",
    "DS": "0",
    "AS": "000D",
    "US": 0,
    "SS": 0,
    "UL": 0,
    "SL": 0,
    "UV": 0,
    "SV": 0,
    "FL": 0.0,
    "FD": 0.0,
}
_TEXT_VRS = frozenset({"PN", "LO", "SH", "ST", "LT", "UT", "UC"})
# String VRs limited to ASCII characters (PS3.5 6.2): any simple codec encodes them.
_ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"})
_PN, _PID = 0x00100010, 0x00100020
_CHARSET, _VALUE_TYPE, _TEXT_VALUE = 0x00080005, 0x0040A040, 0x0040A160


@dataclass
class DeidResult:
    """What :func:`deidentify_dataset` produced.

    Attributes:
        dataset: the de-identified data set (the input object, modified in place).
        quarantine_reason: why the pixels may still show identifying text, or None.
        uid_map: original UID -> new UID, for every UID remapped in this file.
        patient_id: the original patient identifier the pseudonyms derive from.
        pseudonym: the pseudonymous PatientID written.
        day_shift: days added to every date (0 unless Modified Dates).
    """

    dataset: Dataset
    quarantine_reason: str | None
    uid_map: dict[str, str] = field(default_factory=dict)
    patient_id: str = ""
    pseudonym: str = ""
    day_shift: int = 0


def method_codes(options: DeidOptions, pixels_cleaned: bool = False) -> list[str]:
    """The CID 7050 codes describing a run with ``options``."""
    chosen = {
        "113100": True,
        "113101": pixels_cleaned,
        "113104": options.clean_structured,
        "113105": options.clean_descriptors,
        "113106": options.dates == "full",
        "113107": options.dates == "modified",
        "113108": options.retain_patient_chars,
        "113109": options.retain_device,
        "113110": options.retain_uids,
        "113111": options.retain_safe_private,
        "113112": options.retain_institution,
    }
    return [code for code, on in chosen.items() if on]


def _shift_da(value: str, days: int) -> str:
    text = value.strip()
    try:
        day = dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return ""  # not a full date: nothing safe to keep
    return (day + dt.timedelta(days=days)).strftime("%Y%m%d") + text[8:]


@dataclass
class _Walker:
    key: DeidKey
    options: DeidOptions
    actions: dict[int, str]
    matcher: PhiMatcher
    days: int
    safe_private: set[int]
    uid_map: dict[str, str] = field(default_factory=dict)
    codec: str | None = "latin-1"
    charset: tuple[str, ...] = ("ISO_IR 6",)

    def uid(self, value: str) -> str:
        original = str(value).strip(" \x00")
        if not original:
            return original
        new = self.uid_map.get(original)
        if new is None:
            new = self.uid_map[original] = self.key.uid(original)
        return new

    def walk(self, ds: Dataset) -> None:
        parent, parent_charset = self.codec, self.charset
        self.codec = simple_charset(ds, parent)
        if _CHARSET in ds:
            self.charset = _charset_of(ds)
        for tag in list(ds.keys()):
            self._element(ds, BaseTag(tag))
        self.codec, self.charset = parent, parent_charset

    def _element(self, ds: Dataset, tag: BaseTag) -> None:
        if tag.element == 0 or ((tag.group & 0xFF00) in (0x5000, 0x6000) and tag.group % 2 == 0):
            del ds[tag]  # group lengths; curves and overlays (PS3.15 E.1-1, 50xx/60xx)
            return
        if tag.is_private:
            if tag not in self.safe_private:
                del ds[tag]
            return
        vr = element_vr(ds, tag)
        action = self.actions.get(int(tag)) or unlisted_action(int(tag), vr)
        if vr == "SQ":
            _sequence(self, ds, tag, action)
        elif action != "K":
            _HANDLERS[action](self, ds, tag, vr)

    def values(self, ds: Dataset, tag: int) -> list[str]:
        return text_values(ds, tag, self.codec)

    def set(self, ds: Dataset, tag: int, vr: str, values: list[str] | str | None) -> None:
        """Replace a string element, encoded in the character set in force."""
        if self.codec is not None or vr in _ASCII_VRS:
            _set(ds, tag, vr, values, self.codec or "latin-1")
            return
        items = [values] if isinstance(values, str) else values or []
        encodings = convert_encodings(list(self.charset))
        if vr == "PN":
            data = b"\\".join(PersonName(v).encode(encodings) for v in items)
        else:
            data = encode_string("\\".join(items), encodings)
        _set_raw(ds, tag, vr, data)

    def scrub(self, ds: Dataset, tag: int, vr: str) -> None:
        values = self.values(ds, tag)
        cleaned = [scrub_contacts(self.matcher.scrub(v)) for v in values]
        if cleaned != values:
            self.set(ds, tag, vr, cleaned)


def _charset_of(ds: Dataset) -> tuple[str, ...]:
    raw = ds.get_item(_CHARSET)
    value = raw.value if raw is not None else b""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    items = text.split("\\") if isinstance(text, str) else list(text or [])
    return tuple(str(v).strip(" \x00") for v in items) or ("ISO_IR 6",)


def _set(
    ds: Dataset,
    tag: int,
    vr: str,
    values: list[str] | str | int | float | None,
    codec: str | None = None,
) -> None:
    """Replace an element; strings in a simple character set are stored encoded.

    A raw element costs nothing to build and is written as it is; pydicom decodes
    it only if someone reads the value (PS3.5 6.2: padded to even length).
    """
    text = values if isinstance(values, list) else [values] if isinstance(values, str) else None
    if codec is not None and (values is None or text is not None):
        _set_raw(ds, tag, vr, "\\".join(text or []).encode(codec))
        return
    if isinstance(values, list):
        values = None if not values else values[0] if len(values) == 1 else values
    ds[tag] = DataElement(tag, vr, values)


def _set_raw(ds: Dataset, tag: int, vr: str, data: bytes) -> None:
    if len(data) % 2:
        data += b"\x00" if vr == "UI" else b" "
    implicit = ds.original_encoding[0] is True
    ds[tag] = RawDataElement(BaseTag(tag), vr, len(data), data, 0, implicit, True)


def _is_free_text(item: Dataset) -> bool:
    """A content item of value type TEXT (PS3.3 C.17.3): unstructured text."""
    return item.get_item(_VALUE_TYPE) is not None and text_values(item, _VALUE_TYPE, "latin-1") == [
        "TEXT"
    ]


def _sequence(w: _Walker, ds: Dataset, tag: int, action: str) -> None:
    # X removes a sequence, Z empties it; every other action keeps its items and
    # applies the table inside them (PS3.15 E.3: nested attributes are de-identified).
    if action == "X":
        del ds[tag]
    elif action == "Z":
        ds[tag] = DataElement(tag, "SQ", Sequence())
    else:
        items = ds[tag].value or []
        if not w.options.clean_structured and any(_is_free_text(i) for i in items):
            # Without Clean Structured Content (PS3.15 E.3), SR free text goes with
            # its item and the items below it; codes, numbers and references stay.
            items = ds[tag].value = Sequence([i for i in items if not _is_free_text(i)])
        for item in items:
            w.walk(item)


def _remove(w: _Walker, ds: Dataset, tag: int, vr: str) -> None:
    del ds[tag]


def _empty(w: _Walker, ds: Dataset, tag: int, vr: str) -> None:
    if vr in _TEXT_VRS or vr in _ASCII_VRS:
        _set_raw(ds, tag, vr, b"")
    else:
        _set(ds, tag, vr, None)


def _dummy(w: _Walker, ds: Dataset, tag: int, vr: str) -> None:
    if vr == "UI":
        _remap(w, ds, tag, vr)
        return
    raw = ds.get_item(tag)
    if raw is None or raw.value in (None, b"", ""):
        return  # empty stays empty: nothing to replace
    # Binary values (OB, OW, UN...): no dummy carries meaning, so zero length.
    dummy = _DUMMY.get(vr)
    if isinstance(dummy, str):
        _set_raw(ds, tag, vr, dummy.encode("ascii"))
    else:
        _set(ds, tag, vr, dummy)


def _clean(w: _Walker, ds: Dataset, tag: int, vr: str) -> None:
    if vr in ("DA", "DT"):
        values = w.values(ds, tag)
        if w.options.dates == "modified":
            w.set(ds, tag, vr, [_shift_da(v, w.days) for v in values])
        elif values:
            _set_raw(ds, tag, vr, b"")
    elif vr != "TM":  # Modified Dates shifts whole days: the time of day is kept
        w.scrub(ds, tag, vr)


def _remap(w: _Walker, ds: Dataset, tag: int, vr: str) -> None:
    """Instance UIDs remapped; a class or a UID the standard defines is kept."""
    if vr != "UI":
        _empty(w, ds, tag, vr)
        return
    if w.options.retain_uids:
        return
    values = w.values(ds, tag)
    new = [w.uid(v) if is_instance_uid(tag, v) else v for v in values]
    if new != values:
        w.set(ds, tag, vr, new)


def _date_or_time(w: _Walker, ds: Dataset, tag: int, vr: str) -> None:
    """A date or time outside the table: the longitudinal option decides."""
    if w.options.dates == "remove":
        del ds[tag]
    elif w.options.dates == "modified" and vr != "TM":
        _clean(w, ds, tag, vr)


def _keep_masked(w: _Walker, ds: Dataset, tag: int, vr: str) -> None:
    if w.matcher.needles:
        w.scrub(ds, tag, vr)


_HANDLERS: dict[str, Callable[[_Walker, Dataset, int, str], None]] = {
    "X": _remove,
    "Z": _empty,
    "D": _dummy,
    "C": _clean,
    "U": _remap,
    "T": _date_or_time,
    "S": _keep_masked,
}


@functools.lru_cache(maxsize=32)
def _actions(profile: Profile, options: DeidOptions) -> dict[int, str]:
    actions = dict(profile.actions(options))
    # SR text values: kept and cleaned under Clean Structured Content (PS3.15 E.3.5);
    # otherwise their TEXT items are removed (see _sequence) and any other is removed.
    actions[_TEXT_VALUE] = "C" if options.clean_structured else "X"
    return actions


def _patient_ref(ds: Dataset) -> str:
    """The original identifier pseudonyms derive from: PatientID, else PatientName."""
    codec = simple_charset(ds)
    ids = text_values(ds, _PID, codec) or text_values(ds, _PN, codec)
    return ids[0] if ids else ""


def _stamp(ds: Dataset, options: DeidOptions, pixels_cleaned: bool) -> None:
    """PS3.15 E.1.1: Patient Identity Removed, method text and method code sequence.

    The four elements are the same for every file of a run: they are encoded once
    (little-endian files) and shared as immutable raw elements.
    """
    codes = tuple(method_codes(options, pixels_cleaned))
    implicit, little = ds.original_encoding
    if little is not False:
        for raw in _stamp_elements(codes, options.dates, implicit is True):
            ds[raw.tag] = raw
        return
    ds.add_new(0x00120062, "CS", "YES")  # Patient Identity Removed
    ds.add_new(0x00120063, "LO", _method_text(codes))  # De-identification Method
    items = []
    for code in codes:
        item = Dataset()
        item.add_new(0x00080100, "SH", code)  # Code Value
        item.add_new(0x00080102, "SH", "DCM")  # Coding Scheme Designator
        item.add_new(0x00080104, "LO", METHOD_CODES[code])  # Code Meaning
        items.append(item)
    ds.add_new(0x00120064, "SQ", Sequence(items))  # De-identification Method Code Sequence
    # Longitudinal Temporal Information Modified (0028,0303)
    ds.add_new(0x00280303, "CS", _LONGITUDINAL[options.dates])


def _method_text(codes: tuple[str, ...]) -> str:
    return "radcycle PS3.15 Annex E: " + ", ".join(codes)


@functools.lru_cache(maxsize=64)
def _stamp_elements(
    codes: tuple[str, ...], dates: str, implicit: bool
) -> tuple[RawDataElement, ...]:
    def raw(tag: int, vr: str, value: bytes) -> RawDataElement:
        data = value + b" " * (len(value) % 2)  # PS3.5 6.2: even length, space padded
        return RawDataElement(BaseTag(tag), vr, len(data), data, 0, implicit, True)

    items = b"".join(
        item_bytes(
            element_bytes(0x00080100, "SH", code.encode(), implicit)
            + element_bytes(0x00080102, "SH", b"DCM", implicit)
            + element_bytes(0x00080104, "LO", METHOD_CODES[code].encode(), implicit)
        )
        for code in codes
    )
    return (
        raw(0x00120062, "CS", b"YES"),
        raw(0x00120063, "LO", _method_text(codes).encode()),
        RawDataElement(BaseTag(0x00120064), "SQ", len(items), items, 0, implicit, True),
        raw(0x00280303, "CS", _LONGITUDINAL[dates].encode()),
    )


_LONGITUDINAL = {"remove": "REMOVED", "full": "UNMODIFIED", "modified": "MODIFIED"}


def _rebuild_meta(ds: Dataset) -> None:
    """Keep only the file meta elements that identify nothing (PS3.10 7.1)."""
    old = getattr(ds, "file_meta", None)
    syntax = getattr(old, "TransferSyntaxUID", None) if old is not None else None
    if syntax is None:
        implicit, little = ds.original_encoding
        if little is False:
            syntax = ExplicitVRBigEndian
        else:
            syntax = ExplicitVRLittleEndian if implicit is False else ImplicitVRLittleEndian
    codec = simple_charset(ds)
    sop_class = text_values(ds, 0x00080016, codec) or ["1.2.840.10008.5.1.4.1.1.7"]
    sop_instance = text_values(ds, 0x00080018, codec) or [""]
    meta = FileMetaDataset()
    meta.add_new(0x00020002, "UI", sop_class[0])  # Media Storage SOP Class UID
    meta.add_new(0x00020003, "UI", sop_instance[0])  # Media Storage SOP Instance UID
    meta.add_new(0x00020010, "UI", syntax)  # Transfer Syntax UID
    ds.file_meta = meta


def deidentify_dataset(
    ds: Dataset,
    key: DeidKey,
    options: DeidOptions,
    profile: Profile | None = None,
) -> DeidResult:
    """De-identify ``ds`` in place and say whether its pixels need quarantine.

    Args:
        ds: a data set as read by pydicom (file meta included, if any).
        key: the de-identification key.
        options: the Annex E options.
        profile: the attribute table (the packaged Table E.1-1 by default).

    Returns:
        The result, with the UID map and the patient's pseudonym.
    """
    with lenient():
        return _deidentify(ds, key, options, profile or load_profile())


def _deidentify(ds: Dataset, key: DeidKey, options: DeidOptions, profile: Profile) -> DeidResult:
    ref = _patient_ref(ds)
    identifiers = identifying_strings(
        ds,
        visit_dates=options.dates != "full",
        institution=not options.retain_institution,
    )
    days = key.day_shift(ref) if options.dates == "modified" else 0
    reason = burned_in_reason(ds)
    pixels_cleaned = False
    if reason is not None and options.clean_pixel_data:
        pixels_cleaned = clean_pixels(ds)
        reason = None if pixels_cleaned else reason + "; Clean Pixel Data cannot locate the text"
    walker = _Walker(
        key=key,
        options=options,
        actions=_actions(profile, options),
        matcher=identifiers.matcher(),
        days=days,
        safe_private=safe_private_tags(ds) if options.retain_safe_private else set(),
    )
    walker.walk(ds)
    ds[_PID] = DataElement(_PID, "LO", key.patient_id(ref))
    ds[_PN] = DataElement(_PN, "PN", key.patient_name(ref))
    _stamp(ds, options, pixels_cleaned)
    _rebuild_meta(ds)
    return DeidResult(
        dataset=ds,
        quarantine_reason=reason,
        uid_map=walker.uid_map,
        patient_id=ref,
        pseudonym=key.patient_id(ref),
        day_shift=days,
    )
