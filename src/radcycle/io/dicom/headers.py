"""Read just enough of each DICOM file to group, sort and load it later.

One pass over a folder parses headers only (pydicom stops before the pixel
data), so a 300-slice series costs a fraction of a second. For native
(uncompressed, little-endian) single-frame images we remember where the pixel
bytes start, so the loader can read them straight into the volume.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from radcycle.errors import InputError, NotDicomError, RadcycleError, TruncatedFileError
from radcycle.io.dicom.rawheader import read_raw_header

log = logging.getLogger(__name__)

__all__ = ["FileOutcome", "FrameRef", "ImageHeader", "read_header"]

# Transfer syntaxes whose pixel bytes can be copied straight into an array.
NATIVE_LITTLE_ENDIAN = frozenset(
    {
        "1.2.840.10008.1.2",  # Implicit VR Little Endian
        "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    }
)

# SOP classes that are not images, by the name the toolkit gives them.
_OBJECT_KINDS: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.481.3": "RTSTRUCT",
    "1.2.840.10008.5.1.4.1.1.66.4": "SEG",
    "1.2.840.10008.5.1.4.1.1.481.5": "RTPLAN",
    "1.2.840.10008.5.1.4.1.1.88.11": "SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "SR",
    "1.2.840.10008.5.1.4.1.1.88.34": "SR",
    "1.2.840.10008.5.1.4.1.1.88.22.1": "SR",
    "1.2.840.10008.5.1.4.1.1.88.59": "SR",
    "1.2.840.10008.5.1.4.1.1.66.1": "REG",
    "1.2.840.10008.5.1.4.1.1.104.1": "PDF",
}

# (7FE0,0010) PixelData, (7FE0,0008) FloatPixelData, (7FE0,0009) DoubleFloatPixelData,
# as the four little-endian tag bytes that precede the element.
_PIXEL_TAGS = frozenset(
    {b"\xe0\x7f\x10\x00", b"\xe0\x7f\x08\x00", b"\xe0\x7f\x09\x00", b"\x7f\xe0\x00\x10"}
)

Status = Literal["loaded", "skipped", "error"]


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file: loaded, skipped (with why) or error (with why)."""

    path: str
    status: Status
    kind: str
    reason: str = ""
    error_type: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"path": self.path, "status": self.status, "kind": self.kind}
        if self.reason:
            out["reason"] = self.reason
        if self.error_type:
            out["error_type"] = self.error_type
        return out


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        seq = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return tuple(seq) if len(seq) == n else None


def _float(value: Any, default: float | None) -> float | None:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _int(value: Any, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class _FieldSource(Protocol):
    """What header building needs of a parsed header: values by keyword."""

    def __contains__(self, keyword: str) -> bool: ...

    def get(self, keyword: str, default: Any = None) -> Any: ...


def _text(ds: _FieldSource, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value)


@functools.lru_cache(maxsize=512)
def _tag_and_vr(keyword: str) -> tuple[int, str]:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return tag, dictionary_VR(tag)


_NUMERIC_TEXT = frozenset({"DS", "IS"})
_PLAIN_TEXT = frozenset({"UI", "CS", "DA", "TM", "DT", "AS", "SH", "LO", "PN", "ST", "LT"})
_BINARY_INT = {"US": (2, False), "SS": (2, True), "UL": (4, False), "SL": (4, True)}


class _Fields:
    """Fast read-only access to a dataset's top-level values.

    pydicom converts each element on first access through a general machinery
    that dominates header-only reading; for the plain ASCII and little-endian
    binary values a series header holds, decoding the raw bytes directly gives
    the same values several times faster. Anything else falls back to pydicom.
    """

    __slots__ = ("ds", "little")

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self.little = bool(getattr(ds, "is_little_endian", True) in (True, None))

    def __contains__(self, keyword: str) -> bool:
        return _tag_and_vr(keyword)[0] in self.ds

    def get(self, keyword: str, default: Any = None) -> Any:
        tag, vr = _tag_and_vr(keyword)
        # Dataset keeps its elements in a dict keyed by tag; reading it directly skips
        # the Tag() normalisation of get_item, which matters at 50 lookups a file.
        store = getattr(self.ds, "_dict", None)
        elem = store.get(tag) if isinstance(store, dict) else self.ds.get_item(tag)
        if elem is None:
            return default
        if isinstance(elem, RawDataElement) and self.little:
            raw = elem.value
            if raw is None or len(raw) == 0:
                return default if vr not in _PLAIN_TEXT else ""
            if vr in _BINARY_INT:
                size, signed = _BINARY_INT[vr]
                return int.from_bytes(raw[:size], "little", signed=signed)
            if (vr in _NUMERIC_TEXT or vr in _PLAIN_TEXT) and raw.isascii() and b"\x1b" not in raw:
                text = raw.decode("ascii").strip(" \x00")
                if vr in _NUMERIC_TEXT:
                    return text.split("\\") if "\\" in text else text
                return text
        return self.ds.get(keyword, default)


@dataclass(frozen=True)
class FrameRef:
    """One 2D frame of an image file, positioned in patient space."""

    header: ImageHeader
    frame: int
    position: tuple[float, ...] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    rescale_slope: float
    rescale_intercept: float
    #: Why the in-plane spacing is not known ("" where PixelSpacing is valid).
    spacing_problem: str = ""


#: In-plane pixel spacing a radiological image can have (mm); outside it the
#: header is wrong, not the patient.
PLAUSIBLE_PIXEL_MM = (0.01, 50.0)


def spacing_problem(raw: Any, spacing: tuple[float, ...] | None, imager: Any) -> str:
    """Why ``PixelSpacing`` cannot be trusted, or ``""`` where it can.

    Args:
        raw: the PixelSpacing value as read (None where absent).
        spacing: the same parsed to numbers (None where unreadable).
        imager: ImagerPixelSpacing (0018,1164), spacing at the detector, not
            in the patient.

    Example:
        >>> spacing_problem(["0.7", "0.7"], (0.7, 0.7), None)
        ''
        >>> spacing_problem(None, None, ["0.2", "0.2"])
        'PixelSpacing (0028,0030) missing; only ImagerPixelSpacing (0018,1164) 0.2/0.2'
        >>> spacing_problem("abc", None, None)
        "PixelSpacing (0028,0030) is not two positive numbers: 'abc'"
    """
    lo, hi = PLAUSIBLE_PIXEL_MM
    if spacing is not None and all(math.isfinite(v) and v > 0 for v in spacing):
        if all(lo <= v <= hi for v in spacing):
            return ""
        return f"PixelSpacing (0028,0030) implausible: {_raw_text(raw)!r} mm (not {lo}-{hi})"
    if raw is None or raw == "":
        if imager is not None and imager != "":
            only = f"only ImagerPixelSpacing (0018,1164) {_raw_text(imager)}"
            return f"PixelSpacing (0028,0030) missing; {only}"
        return "PixelSpacing (0028,0030) missing"
    return f"PixelSpacing (0028,0030) is not two positive numbers: {_raw_text(raw)!r}"


def _raw_text(value: Any) -> str:
    if isinstance(value, str | bytes):
        return str(value)[:64]
    try:
        return "/".join(str(v) for v in value)[:64]
    except TypeError:
        return str(value)[:64]


@dataclass(frozen=True)
class ImageHeader:
    """The header facts radcycle needs of one DICOM file (no pixel data)."""

    path: str
    kind: str
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    modality: str
    transfer_syntax_uid: str
    patient: dict[str, str]
    study: dict[str, str]
    series: dict[str, Any]
    rows: int = 0
    columns: int = 0
    samples_per_pixel: int = 1
    bits_allocated: int = 16
    bits_stored: int = 16
    pixel_representation: int = 0
    photometric: str = ""
    number_of_frames: int = 1
    has_pixels: bool = False
    pixel_offset: int | None = None
    instance_number: int | None = None
    acquisition_number: int | None = None
    slice_thickness: float | None = None
    frames: tuple[FrameRef, ...] = field(default_factory=tuple)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_image(self) -> bool:
        return self.kind == "IMAGE"


def _classify(ds: _FieldSource, has_pixels: bool) -> str:
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class in _OBJECT_KINDS:
        return _OBJECT_KINDS[sop_class]
    modality = str(ds.get("Modality", ""))
    if modality in ("RTSTRUCT", "SEG", "SR", "RTPLAN", "KO", "PR"):
        return modality
    return "IMAGE" if has_pixels else "NON-IMAGE"


def _frame_refs(ds: _FieldSource, header: ImageHeader) -> tuple[FrameRef, ...]:
    """Per-frame geometry: classic single frame, enhanced multi-frame, or grid offsets."""
    slope = _float(ds.get("RescaleSlope"), 1.0) or 1.0
    intercept = _float(ds.get("RescaleIntercept"), 0.0) or 0.0
    iop = _floats(ds.get("ImageOrientationPatient"), 6)
    ipp = _floats(ds.get("ImagePositionPatient"), 3)
    raw_spacing = ds.get("PixelSpacing")
    spacing = _floats(raw_spacing, 2)
    bad = spacing_problem(raw_spacing, spacing, ds.get("ImagerPixelSpacing"))
    nframes = header.number_of_frames
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and len(per_frame) == nframes:
        shared_item = shared[0] if shared else Dataset()
        refs = []
        for index, item in enumerate(per_frame):
            refs.append(_enhanced_frame(header, index, item, shared_item, (slope, intercept)))
        return tuple(refs)
    offsets = ds.get("GridFrameOffsetVector")
    if isinstance(offsets, str):
        offsets = [offsets]
    if nframes > 1 and offsets is not None and ipp is not None and iop is not None:
        import numpy as np

        row, col = np.asarray(iop[:3]), np.asarray(iop[3:])
        normal = np.cross(row, col)
        base = np.asarray(ipp)
        return tuple(
            FrameRef(
                header,
                i,
                tuple(float(v) for v in base + float(off) * normal),
                iop,
                spacing,
                slope,
                intercept,
                bad,
            )
            for i, off in enumerate(list(offsets)[:nframes])
        )
    return tuple(
        FrameRef(header, i, ipp if nframes == 1 else None, iop, spacing, slope, intercept, bad)
        for i in range(nframes)
    )


def _enhanced_frame(
    header: ImageHeader,
    index: int,
    item: Dataset,
    shared: Dataset,
    rescale: tuple[float, float],
) -> FrameRef:
    def lookup(seq_kw: str, kw: str) -> Any:
        for source in (item, shared):
            seq = source.get(seq_kw)
            if seq and kw in seq[0]:
                return seq[0].get(kw)
        return None

    slope = _float(lookup("PixelValueTransformationSequence", "RescaleSlope"), rescale[0])
    intercept = _float(lookup("PixelValueTransformationSequence", "RescaleIntercept"), rescale[1])
    raw_spacing = lookup("PixelMeasuresSequence", "PixelSpacing")
    spacing = _floats(raw_spacing, 2)
    return FrameRef(
        header,
        index,
        _floats(lookup("PlanePositionSequence", "ImagePositionPatient"), 3),
        _floats(lookup("PlaneOrientationSequence", "ImageOrientationPatient"), 6),
        spacing,
        1.0 if slope is None else slope,
        0.0 if intercept is None else intercept,
        spacing_problem(raw_spacing, spacing, None),
    )


def _header_from_dataset(
    path: Path, dataset: Dataset, pixel_offset: int | None, pixel_tag: bool
) -> ImageHeader:
    meta = getattr(dataset, "file_meta", None)
    tsuid = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not tsuid:
        tsuid = "1.2.840.10008.1.2" if dataset.is_implicit_VR else "1.2.840.10008.1.2.1"
    return _header_from_fields(path, _Fields(dataset), tsuid, pixel_offset, pixel_tag)


def _header_from_fields(
    path: Path, ds: _FieldSource, tsuid: str, pixel_offset: int | None, pixel_tag: bool
) -> ImageHeader:
    has_pixels = pixel_tag or any(
        k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
    )
    kind = _classify(ds, has_pixels)
    nframes = _int(ds.get("NumberOfFrames"), 1) or 1
    if "NumberOfFrames" in ds and _int(ds.get("NumberOfFrames"), None) is None:
        raise InputError(
            "NumberOfFrames is not an integer",
            path=path,
            tag="(0028,0008) NumberOfFrames",
            value=str(ds.get("NumberOfFrames")),
        )
    header = ImageHeader(
        path=str(path),
        kind=kind,
        sop_class_uid=_text(ds, "SOPClassUID"),
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        modality=_text(ds, "Modality"),
        transfer_syntax_uid=tsuid,
        patient={
            "patient_id": _text(ds, "PatientID"),
            "name": _text(ds, "PatientName"),
            "birth_date": _text(ds, "PatientBirthDate"),
            "sex": _text(ds, "PatientSex"),
        },
        study={
            "study_date": _text(ds, "StudyDate"),
            "study_time": _text(ds, "StudyTime"),
            "description": _text(ds, "StudyDescription"),
            "accession_number": _text(ds, "AccessionNumber"),
        },
        series={
            "description": _text(ds, "SeriesDescription"),
            "number": _int(ds.get("SeriesNumber"), None),
            "frame_of_reference_uid": _text(ds, "FrameOfReferenceUID"),
            "units": _text(ds, "Units"),
            "body_part": _text(ds, "BodyPartExamined"),
            "gantry_tilt": _float(ds.get("GantryDetectorTilt"), None),
            # acquisition facts image quality control reads (absent: "" or None)
            "contrast_agent": _text(ds, "ContrastBolusAgent"),
            "kvp": _float(ds.get("KVP"), None),
            "exposure_mas": _float(ds.get("Exposure"), None),
            "ctdi_vol": _float(ds.get("CTDIvol"), None),
            "kernel": _text(ds, "ConvolutionKernel"),
        },
        rows=_int(ds.get("Rows"), 0) or 0,
        columns=_int(ds.get("Columns"), 0) or 0,
        samples_per_pixel=_int(ds.get("SamplesPerPixel"), 1) or 1,
        bits_allocated=_int(ds.get("BitsAllocated"), 16) or 16,
        bits_stored=_int(ds.get("BitsStored"), None) or _int(ds.get("BitsAllocated"), 16) or 16,
        pixel_representation=_int(ds.get("PixelRepresentation"), 0) or 0,
        photometric=_text(ds, "PhotometricInterpretation"),
        number_of_frames=nframes,
        has_pixels=has_pixels,
        pixel_offset=pixel_offset,
        instance_number=_int(ds.get("InstanceNumber"), None),
        acquisition_number=_int(ds.get("AcquisitionNumber"), None),
        slice_thickness=_float(ds.get("SliceThickness"), None),
    )
    if kind == "IMAGE":
        object.__setattr__(header, "frames", _frame_refs(ds, header))
    return header


def _native_offset(ds: _FieldSource, tsuid: str, fp_pos: int, size: int) -> int | None:
    """Byte offset of the pixel values when they can be read straight from the file."""
    if tsuid not in NATIVE_LITTLE_ENDIAN:
        return None
    rows, cols = _int(ds.get("Rows"), 0) or 0, _int(ds.get("Columns"), 0) or 0
    bits = _int(ds.get("BitsAllocated"), 0)
    if bits not in (8, 16, 32) or (_int(ds.get("NumberOfFrames"), 1) or 1) != 1:
        return None
    if (_int(ds.get("SamplesPerPixel"), 1) or 1) != 1 or rows * cols == 0:
        return None
    header_len = 8 if tsuid == "1.2.840.10008.1.2" else 12
    expected = rows * cols * (bits // 8)
    offset = fp_pos + header_len
    # Only trust the offset when the file really holds that many bytes after it.
    return offset if size - offset >= expected else None


def read_header(path: str | Path, *, fast: bool = True) -> ImageHeader:
    """Parse the header of one DICOM file.

    Common native little-endian files go through a raw header walker
    (:mod:`radcycle.io.dicom.rawheader`); everything else, or ``fast=False``,
    through pydicom. Real-world headers often break VR rules; pydicom warns about
    them and we read leniently, so its warnings are silenced here.

    Raises:
        NotDicomError: the file is not DICOM.
        TruncatedFileError: the header is cut short.
        InputError: any other reason the header cannot be read.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _read_header(Path(path), fast)


def _fast_header(p: Path) -> ImageHeader | None:
    """The header through the raw walker, or None where pydicom must read the file."""
    fast = read_raw_header(str(p))
    if fast is None:
        return None
    fields, pixel_pos, size = fast
    # Enhanced multi-frame geometry lives in sequences: pydicom reads those.
    if pixel_pos is None or "PerFrameFunctionalGroupsSequence" in fields:
        return None
    pixel_offset = _native_offset(fields, fields.transfer_syntax_uid, pixel_pos, size)
    if pixel_offset is None:
        return None  # multi-frame, colour or cut short: the full reader says which
    try:
        return _header_from_fields(p, fields, fields.transfer_syntax_uid, pixel_offset, True)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None


def _read_header(p: Path, fast: bool) -> ImageHeader:
    header = _fast_header(p) if fast else None
    if header is not None:
        return header
    try:
        size = p.stat().st_size
        with p.open("rb") as fp, warnings.catch_warnings():
            # Real-world headers break VR rules often; pydicom warns, we read leniently.
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(fp, stop_before_pixels=True)
            pos = fp.tell()
            fp.seek(pos)
            tag = fp.read(4)
            if tag not in _PIXEL_TAGS and "Rows" in ds:
                # Deflated or otherwise re-encoded streams: the file offset says
                # nothing, so look at the whole dataset once.
                full = pydicom.dcmread(str(p))
                if any(k in full for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
                    tag = b"\xe0\x7f\x10\x00" if "PixelData" in full else b"\xe0\x7f\x08\x00"
                    pos = -1
                elif fp.tell() >= size and str(ds.get("SOPClassUID", "")) not in _OBJECT_KINDS:
                    raise TruncatedFileError(
                        "image attributes (Rows) but the file ends before any pixel data: "
                        "probably cut short",
                        path=p,
                        tag="(7FE0,0010) PixelData",
                    )
            elif (
                tag not in _PIXEL_TAGS
                and "Image Storage" in UID(str(ds.get("SOPClassUID", ""))).name
            ):
                raise TruncatedFileError(
                    f"{UID(str(ds.SOPClassUID)).name} object without pixel data (PixelData is "
                    "Type 1): file cut short or invalid",
                    path=p,
                    tag="(7FE0,0010) PixelData",
                )
    except InvalidDicomError as exc:
        raise NotDicomError("not a DICOM file (no DICM preamble or valid header)", path=p) from exc
    except (EOFError, OSError) as exc:
        raise TruncatedFileError(f"file cut short while reading the header: {exc}", path=p) from exc
    except (ValueError, KeyError, TypeError, AttributeError, NotImplementedError) as exc:
        raise InputError(f"unreadable DICOM header: {exc}", path=p) from exc
    meta = getattr(ds, "file_meta", None)
    tsuid = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not tsuid:
        tsuid = "1.2.840.10008.1.2" if ds.is_implicit_VR else "1.2.840.10008.1.2.1"
    pixel_offset = None
    pixel_tag = tag in _PIXEL_TAGS
    if tag == b"\xe0\x7f\x10\x00" and pos >= 0:
        pixel_offset = _native_offset(_Fields(ds), tsuid, pos, size)
        if pixel_offset is None and tsuid in NATIVE_LITTLE_ENDIAN:
            rows, cols = _int(ds.get("Rows"), 0) or 0, _int(ds.get("Columns"), 0) or 0
            bits = _int(ds.get("BitsAllocated"), 16) or 16
            frames = _int(ds.get("NumberOfFrames"), 1) or 1
            spp = _int(ds.get("SamplesPerPixel"), 1) or 1
            need = rows * cols * spp * frames * bits // 8
            if size - pos - 12 < need and size - pos - 8 < need:
                raise TruncatedFileError(
                    f"pixel data cut short: {size - pos} bytes left, {need} expected",
                    path=p,
                    tag="(7FE0,0010) PixelData",
                )
    if not ds and meta is None:
        raise NotDicomError("no DICOM elements found", path=p)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = _header_from_dataset(p, ds, pixel_offset, pixel_tag)
    except RadcycleError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError(f"malformed DICOM attribute: {exc}", path=p) from exc
    return header


def is_dicom_uid(value: str) -> bool:
    """Whether a string is a syntactically valid UID (lenient on length)."""
    try:
        return bool(value) and UID(value).is_valid
    except (TypeError, ValueError):
        return False
