"""Write a HU :class:`~radcycle.domain.Volume` as a DICOM CT Image Storage series.

One file per slice, explicit VR little endian, with a file meta header. Pixel data
are unsigned 16-bit with RescaleIntercept -1024 and RescaleSlope 1, as many CT
scanners store them, so a reader must apply the rescale (PS3.3 C.11.1.1.2:
HU = stored value x slope + intercept). File names are derived from the
SOPInstanceUID and say nothing of slice order: a reader has to sort by
ImagePositionPatient along the slice normal.

The dataset is built once per series; each slice gets a shallow copy with its own
position, numbers and pixels, and slices are encoded and written from a small
thread pool. Nothing depends on the clock, so the same input gives the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.tag import BaseTag, Tag
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

from radcycle.domain import Patient, Volume, validate_uid
from radcycle.errors import ExportError
from radcycle.io.output import write_file

__all__ = ["CTSeriesHeader", "write_ct_series"]

_INTERCEPT = -1024
_PIXEL_DATA = Tag(0x7FE0, 0x0010)
# Tags that differ from slice to slice; everything else is encoded once per series.
_VARYING: frozenset[BaseTag] = frozenset(
    Tag(keyword)
    for keyword in ("SOPInstanceUID", "InstanceNumber", "ImagePositionPatient", "SliceLocation")
) | {_PIXEL_DATA}
_MAX_STORED = 65535

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class CTSeriesHeader:
    """What a CT series says about itself beyond its pixels and geometry.

    Attributes:
        patient: identity written to every file.
        study_instance_uid, series_instance_uid, frame_of_reference_uid: UIDs.
        study_date: StudyDate, SeriesDate, AcquisitionDate and ContentDate.
        accession_number, study_id, study_description, series_description: text.
        series_number: SeriesNumber.
        kvp: peak tube voltage (KVP, kV).
        window: (WindowCenter, WindowWidth) of the default display (HU).
        manufacturer: Manufacturer.
    """

    patient: Patient
    study_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str
    study_date: date
    accession_number: str = ""
    study_id: str = "1"
    study_description: str = "CT CHEST"
    series_description: str = "CHEST 1.0 B30f"
    series_number: int = 2
    kvp: float = 120.0
    window: tuple[float, float] = (-600.0, 1500.0)
    manufacturer: str = "radcycle-synth"

    def __post_init__(self) -> None:
        validate_uid(self.study_instance_uid, "StudyInstanceUID")
        validate_uid(self.series_instance_uid, "SeriesInstanceUID")
        validate_uid(self.frame_of_reference_uid, "FrameOfReferenceUID")


def _ds(value: float) -> str:
    """A decimal string (DS, at most 16 characters) that round-trips ``value``."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _age_years(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _template(volume: Volume, header: CTSeriesHeader) -> Dataset:
    p = header.patient
    day = header.study_date.strftime("%Y%m%d")
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = day
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "093000"
    ds.AccessionNumber = header.accession_number
    ds.Modality = "CT"
    ds.Manufacturer = header.manufacturer
    ds.StudyDescription = header.study_description
    ds.SeriesDescription = header.series_description
    ds.PatientName = p.name
    ds.PatientID = p.patient_id
    ds.PatientBirthDate = p.birth_date.strftime("%Y%m%d") if p.birth_date else ""
    ds.PatientSex = p.sex
    if p.birth_date:
        ds.PatientAge = f"{_age_years(p.birth_date, header.study_date):03d}Y"
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = _ds(float(volume.spacing[2]))
    ds.KVP = _ds(header.kvp)
    ds.SpacingBetweenSlices = _ds(float(volume.spacing[2]))
    ds.ProtocolName = "CHEST ROUTINE"
    ds.ReconstructionDiameter = _ds(float(volume.array.shape[2] * volume.spacing[0]))
    ds.XRayTubeCurrent = 200
    ds.ConvolutionKernel = "STANDARD"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = header.study_instance_uid
    ds.SeriesInstanceUID = header.series_instance_uid
    ds.StudyID = header.study_id
    ds.SeriesNumber = header.series_number
    ds.AcquisitionNumber = 1
    ds.ImageOrientationPatient = [
        _ds(v) for v in (*volume.direction[:, 0], *volume.direction[:, 1])
    ]
    ds.FrameOfReferenceUID = header.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(volume.array.shape[1]), int(volume.array.shape[2])
    ds.PixelSpacing = [_ds(float(volume.spacing[1])), _ds(float(volume.spacing[0]))]
    ds.BitsAllocated = 16
    # 12 bits stored (HU -1024..3071) as most CT scanners do, 16 where values need it.
    ds.BitsStored = 12 if float(np.max(volume.array)) <= 4095 + _INTERCEPT else 16
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.WindowCenter = _ds(header.window[0])
    ds.WindowWidth = _ds(header.window[1])
    ds.RescaleIntercept = str(_INTERCEPT)
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    return ds


def _check_range(volume: Volume) -> None:
    low, high = float(np.min(volume.array)), float(np.max(volume.array))
    if low < _INTERCEPT - 0.5 or high > _MAX_STORED + _INTERCEPT + 0.5:
        raise ExportError(
            f"HU values must lie in [{_INTERCEPT}, {_MAX_STORED + _INTERCEPT}] to be stored",
            value=(low, high),
        )


def _stored_slice(hu: npt.NDArray[np.generic]) -> bytes:
    """Stored values (HU - intercept) of one slice, little-endian uint16 bytes."""
    if not np.issubdtype(hu.dtype, np.integer):
        hu = np.rint(hu)
    return (hu.astype(np.int32) - _INTERCEPT).astype("<u2").tobytes()


def slice_dataset(
    header: CTSeriesHeader,
    k: int,
    position: npt.NDArray[np.float64],
    normal: npt.NDArray[np.float64],
    hu: npt.NDArray[np.generic],
) -> Dataset:
    """The per-slice part of slice ``k``: file meta, identity, position and pixels."""
    sop_uid = UID(generate_uid(entropy_srcs=[header.series_instance_uid, "instance", str(k)]))
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "RADCYCLE_SYNTH"
    ds.file_meta = meta
    ds.SOPInstanceUID = sop_uid
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [_ds(float(v)) for v in position]
    ds.SliceLocation = _ds(float(position @ normal))
    ds.add_new(_PIXEL_DATA, "OW", _stored_slice(hu))
    return ds


def _encode(ds: Dataset) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    write_dataset(fp, ds)
    return fp.getvalue()


class _SeriesEncoder:
    """Explicit VR little endian files from a template encoded once.

    The template's elements are encoded in runs between the per-slice tags; a
    slice's file is the preamble, its file meta, and the runs interleaved with its
    own elements, in ascending tag order as PS3.5 section 7.1 requires. The result
    is byte for byte what ``dcmwrite`` writes for the merged dataset (tested).
    """

    def __init__(self, template: Dataset) -> None:
        self.cuts = sorted(_VARYING)
        runs: list[Dataset] = [Dataset() for _ in range(len(self.cuts) + 1)]
        for elem in template:
            if elem.tag in _VARYING:
                raise ExportError("a per-slice tag is in the series template", tag=str(elem.tag))
            runs[sum(1 for cut in self.cuts if cut < elem.tag)].add(elem)
        self.runs = [_encode(run) for run in runs]

    def encode(self, per_slice: Dataset) -> bytes:
        meta = DicomBytesIO()
        meta.is_little_endian = True
        meta.is_implicit_VR = False
        write_file_meta_info(meta, per_slice.file_meta, enforce_standard=True)
        parts = [b"\x00" * 128, b"DICM", meta.getvalue(), self.runs[0]]
        for cut, run in zip(self.cuts, self.runs[1:], strict=True):
            one = Dataset()
            one.add(per_slice[cut])
            parts.append(_encode(one))
            parts.append(run)
        return b"".join(parts)


def write_ct_series(
    volume: Volume,
    folder: str | Path,
    header: CTSeriesHeader,
    *,
    progress: ProgressCallback | None = None,
    workers: int = 2,
) -> list[Path]:
    """Write ``volume`` (HU) as one DICOM CT file per slice into ``folder``.

    Args:
        volume: HU values, ``array[k, j, i]``; geometry gives the positions.
        folder: created if missing; files already there with the same names are
            overwritten.
        header: identities, dates and descriptions.
        progress: called with the number of slices written so far's increment (1).
        workers: threads encoding and writing slices.

    Returns:
        The written paths, in slice order (k = 0 first).

    Raises:
        ExportError: the values cannot be stored, or a file cannot be written.
    """
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the series folder: {exc.strerror}", path=out) from exc
    template = _template(volume, header)
    _check_range(volume)
    slices = volume.array.shape[0]
    normal = volume.geometry.slice_normal
    positions = volume.index_to_patient(
        np.stack([np.zeros(slices), np.zeros(slices), np.arange(slices)], axis=1)
    )

    encoder = _SeriesEncoder(template)

    def write(k: int) -> Path:
        ds = slice_dataset(header, k, positions[k], normal, volume.array[k])
        path = out / f"{hashlib.sha1(ds.SOPInstanceUID.encode()).hexdigest()[:16]}.dcm"
        write_file(path, encoder.encode(ds))
        if progress is not None:
            progress(1)
        return path

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(write, range(slices)))
