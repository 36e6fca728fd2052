"""Pixel data cut short is found, whole pixel data passes."""

from __future__ import annotations

import struct
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit

from radcycle.io.dicom.completeness import pixel_data_problem


def _image(syntax: str = ExplicitVRLittleEndian, **values: object) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4"
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 4, 4, 16, 12, 11
    ds.SamplesPerPixel, ds.PixelRepresentation = 1, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    for name, value in values.items():
        setattr(ds, name, value)
    return ds


def _reread(ds: Dataset, path: Path, cut: int = 0) -> Dataset:
    ds.save_as(path, enforce_file_format=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    return pydicom.dcmread(path)


def test_native_pixel_data(tmp_path: Path) -> None:
    whole = _reread(_image(PixelData=bytes(32)), tmp_path / "a.dcm")
    assert pixel_data_problem(whole) is None
    cut = _reread(_image(PixelData=bytes(32)), tmp_path / "b.dcm", cut=10)
    assert pixel_data_problem(cut) == "pixel data cut short (22 of 32 bytes)"
    short = _reread(_image(PixelData=bytes(30)), tmp_path / "c.dcm")
    assert pixel_data_problem(short) == "pixel data shorter than the image needs (30 of 32 bytes)"
    frames = _image(PixelData=bytes(64), NumberOfFrames=3)
    assert pixel_data_problem(frames) == "pixel data shorter than the image needs (64 of 96 bytes)"


@pytest.mark.parametrize(
    ("bits", "samples", "photometric", "needed"),
    [
        (1, 1, "MONOCHROME2", 2),
        (8, 3, "RGB", 48),
        (8, 3, "YBR_FULL_422", 32),
    ],
)
def test_sizes_follow_the_header(bits: int, samples: int, photometric: str, needed: int) -> None:
    ds = _image(BitsAllocated=bits, SamplesPerPixel=samples, PhotometricInterpretation=photometric)
    ds.PixelData = bytes(needed)
    assert pixel_data_problem(ds) is None
    ds.PixelData = bytes(needed - 2)
    assert pixel_data_problem(ds) is not None


def test_encapsulated_fragments(tmp_path: Path) -> None:
    ds = _image(JPEGBaseline8Bit, BitsAllocated=8, BitsStored=8, HighBit=7)
    ds.PixelData = encapsulate([b"\xff\xd8" + bytes(200) + b"\xff\xd9"])
    ds["PixelData"].VR = "OB"
    whole = _reread(ds, tmp_path / "a.dcm")
    assert pixel_data_problem(whole) is None
    value = bytes(ds.PixelData)
    ds.PixelData = value[:-50]  # the last fragment ends early
    assert (
        pixel_data_problem(ds)
        == f"pixel data cut short in a fragment ({len(value) - 50} bytes read)"
    )
    ds.PixelData = value[:4] + struct.pack("<I", 0)[:2]
    assert pixel_data_problem(ds) is not None


def test_no_pixel_data_is_no_problem() -> None:
    assert pixel_data_problem(Dataset()) is None
