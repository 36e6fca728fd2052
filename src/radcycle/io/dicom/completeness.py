"""Whether a DICOM file's pixel data is all there.

A file cut short (a copy interrupted, a disk full) often still parses: the last
element, usually Pixel Data, is simply shorter than declared. Such a file must
fail with the reason, never pass as a normal image. Checked without decoding:

* the element's declared length against the bytes read;
* for native (uncompressed) pixel data, the bytes the image needs: Rows x Columns
  x frames x samples x bits allocated (PS3.5 8.1.1; YBR_FULL_422 stores two
  samples per pixel, PS3.3 C.7.6.3.1.2);
* for encapsulated pixel data, every fragment item's length against what is left
  (PS3.5 A.4).

Example:
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.Rows, ds.Columns, ds.BitsAllocated, ds.SamplesPerPixel = 2, 2, 16, 1
    >>> ds.PixelData = b"\\x00" * 6
    >>> pixel_data_problem(ds)
    'pixel data shorter than the image needs (6 of 8 bytes)'
    >>> ds.PixelData = b"\\x00" * 8
    >>> pixel_data_problem(ds) is None
    True
"""

from __future__ import annotations

import math
import struct

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID

__all__ = ["pixel_data_problem"]

# Pixel Data, Float Pixel Data, Double Float Pixel Data and the bits each sample needs
# (None: Bits Allocated says).
_PIXEL_TAGS = ((0x7FE00010, None), (0x7FE00008, 32), (0x7FE00009, 64))
_UNDEFINED = 0xFFFFFFFF
_ITEM = (0xFFFE, 0xE000)


def pixel_data_problem(ds: Dataset) -> str | None:
    """Why the pixel data of ``ds`` is incomplete, or None when it is complete or absent."""
    for tag, bits in _PIXEL_TAGS:
        elem = ds.get_item(tag)
        if elem is None:
            continue
        value = elem.value if isinstance(elem, RawDataElement | DataElement) else None
        if not isinstance(value, bytes | bytearray):
            return None  # read into arrays by some other route: nothing to measure
        declared = elem.length if isinstance(elem, RawDataElement) else len(value)
        if declared != _UNDEFINED and len(value) < declared:
            return f"pixel data cut short ({len(value)} of {declared} bytes)"
        if declared == _UNDEFINED or _encapsulated(ds):
            return _fragments_problem(bytes(value))
        needed = _needed_bytes(ds, bits)
        if needed is not None and len(value) < needed:
            return f"pixel data shorter than the image needs ({len(value)} of {needed} bytes)"
    return None


def _encapsulated(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    return bool(syntax) and UID(str(syntax)).is_encapsulated


def _needed_bytes(ds: Dataset, bits: int | None) -> int | None:
    try:
        rows, columns = _number(ds, 0x00280010), _number(ds, 0x00280011)
        frames = _number(ds, 0x00280008) or 1
        samples = _number(ds, 0x00280002) or 1
        allocated = bits or _number(ds, 0x00280100)
    except (TypeError, ValueError, UnicodeDecodeError, struct.error):
        return None  # an unreadable image header is the reader's problem, not a size
    if rows is None or columns is None or allocated is None:
        return None
    if _text(ds, 0x00280004) == "YBR_FULL_422":
        samples = 2
    return math.ceil(rows * columns * frames * samples * allocated / 8)


# The header is read from the raw bytes where pydicom has not decoded them yet: a
# decoded element is no longer copied verbatim by the fast writer.
def _number(ds: Dataset, tag: int) -> int | None:
    elem = ds.get_item(tag)
    if elem is None or elem.value is None or elem.value == b"":
        return None
    if not isinstance(elem, RawDataElement):
        return int(elem.value)
    value = bytes(elem.value)
    if tag == 0x00280008:  # Number of Frames is IS: digits as text
        return int(value.decode("ascii").strip(" \x00") or 1)
    little = ds.original_encoding[1] is not False
    return int(struct.unpack("<H" if little else ">H", value[:2])[0])


def _text(ds: Dataset, tag: int) -> str:
    elem = ds.get_item(tag)
    if elem is None or elem.value is None:
        return ""
    if isinstance(elem, RawDataElement):
        return bytes(elem.value).decode("ascii", "replace").strip(" \x00")
    return str(elem.value).strip()


def _fragments_problem(value: bytes) -> str | None:
    offset = 0
    while offset + 8 <= len(value):
        group, element, length = struct.unpack_from("<HHI", value, offset)
        if (group, element) != _ITEM:
            return None if (group, element) == (0xFFFE, 0xE0DD) else "pixel data fragments corrupt"
        offset += 8 + length
        if offset > len(value):
            return f"pixel data cut short in a fragment ({len(value)} bytes read)"
    if offset != len(value):
        return f"pixel data cut short in a fragment header ({len(value)} bytes read)"
    return None
