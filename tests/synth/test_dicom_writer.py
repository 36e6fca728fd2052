"""The series writer: its pre-encoded files equal pydicom's own encoding, byte for byte."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.filewriter import dcmwrite

from radcycle.domain import Geometry, Patient, Volume
from radcycle.errors import ExportError
from radcycle.synth.dicom_writer import (
    CTSeriesHeader,
    _template,
    slice_dataset,
    write_ct_series,
)

HEADER = CTSeriesHeader(
    patient=Patient("P1", "DOE^ANON", date(1950, 3, 4), "F"),
    study_instance_uid="1.2.826.0.1.3680043.8.498.1",
    series_instance_uid="1.2.826.0.1.3680043.8.498.2",
    frame_of_reference_uid="1.2.826.0.1.3680043.8.498.3",
    study_date=date(2024, 1, 15),
    accession_number="A1",
)


def _volume(direction: np.ndarray | None = None) -> Volume:
    rng = np.random.default_rng(0)
    array = rng.integers(-1024, 2000, size=(5, 8, 6)).astype(np.int16)
    geometry = Geometry(
        (-10.0, 20.5, -300.25), (0.7, 0.8, 2.5), np.eye(3) if direction is None else direction
    )
    return Volume(array, geometry)


def test_files_equal_dcmwrite_of_the_merged_dataset(tmp_path: Path) -> None:
    volume = _volume()
    paths = write_ct_series(volume, tmp_path, HEADER, workers=2)
    normal = volume.geometry.slice_normal
    for k, path in enumerate(paths):
        position = volume.index_to_patient([[0, 0, k]])[0]
        merged = _template(volume, HEADER)
        per_slice = slice_dataset(HEADER, k, position, normal, volume.array[k])
        merged.update(per_slice)
        merged.file_meta = per_slice.file_meta
        expected = io.BytesIO()
        dcmwrite(expected, merged, enforce_file_format=True)
        assert path.read_bytes() == expected.getvalue()


def test_oblique_geometry_and_values_survive(tmp_path: Path) -> None:
    c, s = np.cos(0.3), np.sin(0.3)
    direction = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
    volume = _volume(direction)
    paths = write_ct_series(volume, tmp_path, HEADER)
    for k, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        np.testing.assert_array_equal(
            ds.pixel_array.astype(np.int32) + int(ds.RescaleIntercept), volume.array[k]
        )
        np.testing.assert_allclose(
            [float(v) for v in ds.ImagePositionPatient],
            volume.index_to_patient([[0, 0, k]])[0],
            atol=1e-5,
        )
        np.testing.assert_allclose(
            [float(v) for v in ds.ImageOrientationPatient],
            [*direction[:, 0], *direction[:, 1]],
            atol=1e-6,
        )


def test_values_outside_the_stored_range_are_refused(tmp_path: Path) -> None:
    volume = _volume()
    volume.array[0, 0, 0] = -2000
    with pytest.raises(ExportError, match="HU values"):
        write_ct_series(volume, tmp_path, HEADER)


@pytest.mark.parametrize(("peak", "bits"), [(3071, 12), (3072, 16), (60000, 16)])
def test_bits_stored_fit_the_values(tmp_path: Path, peak: int, bits: int) -> None:
    array = _volume().array.astype(np.int32)
    array[2, 3, 4] = peak
    volume = Volume(array, _volume().geometry)
    path = write_ct_series(volume, tmp_path, HEADER)[2]
    ds = pydicom.dcmread(path)
    assert ds.BitsStored == bits
    assert ds.HighBit == bits - 1
    assert int(ds.pixel_array[3, 4]) + int(ds.RescaleIntercept) == int(volume.array[2, 3, 4])


def test_patient_age_at_the_study_date(tmp_path: Path) -> None:
    ds = pydicom.dcmread(write_ct_series(_volume(), tmp_path, HEADER)[0])
    assert ds.PatientAge == "073Y"  # born 1950-03-04, scanned 2024-01-15
