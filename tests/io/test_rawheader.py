"""The raw header walker agrees with pydicom wherever it takes the fast path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from radcycle.errors import RadcycleError
from radcycle.io.dicom.headers import ImageHeader, read_header
from radcycle.io.dicom.rawheader import read_raw_header
from tests.io.factory import ct_slice


def _comparable(h: ImageHeader) -> dict[str, object]:
    data = {f.name: getattr(h, f.name) for f in dataclasses.fields(h) if f.name != "frames"}
    data["frames"] = [
        (f.frame, f.position, f.orientation, f.pixel_spacing, f.rescale_slope, f.rescale_intercept)
        for f in h.frames
    ]
    return data


def _agree(path: Path) -> bool | None:
    """True when both paths agree, None when the fast path does not apply."""
    if read_raw_header(str(path)) is None:
        return None
    try:
        slow = read_header(path, fast=False)
    except RadcycleError:
        return None
    fast = read_header(path)
    assert _comparable(fast) == _comparable(slow), path
    return True


def test_fast_path_with_nested_sequences_matches_pydicom(tmp_path: Path):
    ds = ct_slice(np.zeros((4, 4), np.uint16), (1.5, -2.0, 30.25), study="1.2.3", series="1.2.4")
    inner = Dataset()
    inner.CodeValue = "X"
    deeper = Dataset()
    deeper.ReferencedSOPInstanceUID = "1.2.3.4.5"
    inner.ReferencedImageSequence = Sequence([deeper])
    ds.ProcedureCodeSequence = Sequence([inner, Dataset()])
    ds.SeriesDescription = "axial 1.0 mm"
    for implicit in (False, True):
        path = tmp_path / f"s{implicit}.dcm"
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
        ds.save_as(path, implicit_vr=implicit, little_endian=True, enforce_file_format=True)
        assert _agree(path) is True


def test_non_ascii_names_fall_back_to_pydicom(tmp_path: Path):
    ds = ct_slice(np.zeros((4, 4), np.uint16), (0, 0, 0), study="1.2.3", series="1.2.4")
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Müller^Jürgen"
    path = tmp_path / "latin1.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert read_raw_header(str(path)) is None
    assert read_header(path).patient["name"] == "Müller^Jürgen"


@pytest.mark.realdata
def test_fast_path_matches_pydicom_on_real_files(shared_data: Path):
    roots = [shared_data / "dicom-conformance", shared_data / "ibsi"]
    agreed = sum(bool(_agree(p)) for r in roots for p in sorted(r.rglob("*")) if p.is_file())
    assert agreed >= 100
