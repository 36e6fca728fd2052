"""Small DICOM series made on the fly for reader tests (no real data needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def ct_slice(
    pixels: np.ndarray,
    position: Sequence[float],
    *,
    study: str,
    series: str,
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    spacing: Sequence[float] = (0.8, 0.7),
    intercept: float = -1024.0,
    slope: float = 1.0,
    instance: int = 1,
    acquisition: int | None = None,
    patient_id: str = "P1",
    bits_stored: int = 16,
    signed: bool = False,
) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    sop = generate_uid()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.FrameOfReferenceUID = "1.2.3.4"
    ds.PatientID = patient_id
    ds.PatientName = "Test^Patient"
    ds.Modality = "CT"
    ds.StudyDate = "20240105"
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = [float(v) for v in spacing]
    ds.SliceThickness = 2.0
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.RescaleIntercept = intercept
    ds.RescaleSlope = slope
    ds.InstanceNumber = instance
    if acquisition is not None:
        ds.AcquisitionNumber = acquisition
    ds.PixelData = pixels.astype(np.int16 if signed else np.uint16).tobytes()
    return ds


def write_series(
    folder: Path,
    stack: np.ndarray,
    positions: Sequence[Sequence[float]],
    names: Sequence[str] | None = None,
    **kwargs: object,
) -> list[Path]:
    """Write ``stack[k]`` at ``positions[k]``; file names default to reversed order."""
    folder.mkdir(parents=True, exist_ok=True)
    study = str(kwargs.pop("study", generate_uid()))
    series = str(kwargs.pop("series", generate_uid()))
    n = len(positions)
    names = names or [f"f{n - k:04d}.dcm" for k in range(n)]
    paths = []
    for k, (pixels, pos) in enumerate(zip(stack, positions, strict=True)):
        ds = ct_slice(pixels, pos, study=study, series=series, instance=n - k, **kwargs)  # type: ignore[arg-type]
        path = folder / names[k]
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
