"""A fast DICOM writer for de-identified data sets (little-endian syntaxes).

pydicom's ``save_as`` re-encodes every element through generic machinery; for
files of a few kilobytes that costs more than the de-identification itself. Here
the file meta is written by hand (PS3.10 7.1), elements that were never decoded
are copied as they were read, strings are encoded directly (PS3.5 6.2, padded to
even length: UI with NUL, others with a space), sequences are written with
undefined length (PS3.5 7.5.2), and anything else goes through pydicom's own
element writer. Big-endian and deflated syntaxes, and data sets read in another
encoding than their meta declares, go through ``save_as``.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pydicom.uid
from pydicom.charset import convert_encodings
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.multival import MultiValue
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID
from pydicom.valuerep import PersonName

from radcycle.privacy.phi import simple_charset

__all__ = ["element_bytes", "item_bytes", "write_instance"]

# PS3.5 Table 7.1-1: explicit VRs with a 4-byte length after two reserved bytes.
_LONG_VRS = frozenset(
    {"OB", "OW", "OF", "OD", "OL", "OV", "SQ", "UT", "UN", "UC", "UR", "SV", "UV"}
)
_STRING_VRS = frozenset(
    {
        "AE",
        "AS",
        "CS",
        "DA",
        "DS",
        "DT",
        "IS",
        "LO",
        "LT",
        "PN",
        "SH",
        "ST",
        "TM",
        "UC",
        "UI",
        "UR",
        "UT",
    }
)
_ITEM = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
_ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
_SEQUENCE_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def _header(tag: int, vr: str, length: int, implicit: bool) -> bytes:
    group_element = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    if implicit:
        return group_element + struct.pack("<I", length)
    if vr in _LONG_VRS:
        return group_element + vr.encode("ascii") + struct.pack("<HI", 0, length)
    return group_element + vr.encode("ascii") + struct.pack("<H", length)


def element_bytes(tag: int, vr: str, value: bytes, implicit: bool) -> bytes:
    """One little-endian data element: header and value padded to even length."""
    value = _padded(vr, value)
    return _header(tag, vr, len(value), implicit) + value


def item_bytes(elements: bytes) -> bytes:
    """A sequence item of defined length holding the encoded ``elements``."""
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(elements)) + elements


def _padded(vr: str, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\x00" if vr in ("UI", "OB", "UN") else b" "
    return value


def _file_meta_bytes(ds: Dataset) -> bytes:
    """Preamble, prefix and File Meta Information (PS3.10 7.1)."""
    meta = ds.file_meta
    fields = (
        (0x00020001, "OB", b"\x00\x01"),
        (0x00020002, "UI", str(meta.MediaStorageSOPClassUID).encode()),
        (0x00020003, "UI", str(meta.MediaStorageSOPInstanceUID).encode()),
        (0x00020010, "UI", str(meta.TransferSyntaxUID).encode()),
        (0x00020012, "UI", PYDICOM_IMPLEMENTATION_UID.encode()),
        (0x00020013, "SH", b"RADCYCLE"),
    )
    body = b"".join(
        _header(t, vr, len(_padded(vr, v)), False) + _padded(vr, v) for t, vr, v in fields
    )
    length = _header(0x00020000, "UL", 4, False) + struct.pack("<I", len(body))
    return b"\x00" * 128 + b"DICM" + length + body


def _string_bytes(elem: DataElement, codec: str) -> bytes | None:
    value = elem.value
    if value is None or value == "":
        return b""
    items = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    if not all(isinstance(v, str | PersonName) for v in items):
        return None  # numbers held as numbers (IS, DS): pydicom formats those
    return "\\".join(str(v) for v in items).encode(codec)


class _Writer:
    def __init__(self, implicit: bool) -> None:
        self.implicit = implicit
        self.chunks: list[bytes] = []

    def dataset(self, ds: Dataset, codec: str | None) -> None:
        codec = simple_charset(ds, codec)
        encodings = None
        for tag in sorted(ds.keys()):
            elem = ds.get_item(tag)
            if isinstance(elem, RawDataElement):
                if self._raw(int(tag), elem):
                    continue
                elem = ds[tag]
            if elem is None or not self._element(elem, codec):
                encodings = encodings or convert_encodings(
                    ds.get("SpecificCharacterSet") or "iso8859"
                )
                fp = DicomBytesIO()
                fp.is_little_endian, fp.is_implicit_VR = True, self.implicit
                write_data_element(fp, ds[tag], encodings)
                self.chunks.append(fp.getvalue())

    def _raw(self, tag: int, elem: RawDataElement) -> bool:
        value, vr = elem.value, elem.VR
        if not isinstance(value, bytes) or elem.length == 0xFFFFFFFF or len(value) % 2:
            return False
        if not self.implicit and vr is None:
            return False
        self.chunks.append(_header(tag, str(vr), len(value), self.implicit) + value)
        return True

    def _element(self, elem: DataElement, codec: str | None) -> bool:
        tag, vr = int(elem.tag), str(elem.VR)
        if vr == "SQ":
            self.chunks.append(_header(tag, vr, 0xFFFFFFFF, self.implicit))
            for item in elem.value or []:
                self.chunks.append(_ITEM)
                self.dataset(item, codec)
                self.chunks.append(_ITEM_END)
            self.chunks.append(_SEQUENCE_END)
            return True
        if vr not in _STRING_VRS or codec is None:
            return False
        encoded = _string_bytes(elem, codec)
        if encoded is None:
            return False
        value = _padded(vr, encoded)
        self.chunks.append(_header(tag, vr, len(value), self.implicit) + value)
        return True


def write_instance(ds: Dataset, path: Path) -> None:
    """Write ``ds`` as a DICOM file in its own transfer syntax (see the module notes)."""
    syntax = pydicom.uid.UID(str(ds.file_meta.TransferSyntaxUID))
    implicit = syntax.is_implicit_VR
    if (
        not syntax.is_little_endian
        or syntax.is_deflated
        or ds.original_encoding not in ((implicit, True), (None, None))
    ):
        ds.save_as(path, enforce_file_format=True)
        return
    writer = _Writer(implicit)
    writer.dataset(ds, "latin-1")
    path.write_bytes(_file_meta_bytes(ds) + b"".join(writer.chunks))
