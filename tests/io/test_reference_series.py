"""Real series against their NIfTI twins: IBSI PAT1, the sarcoma cases, a JPEG 2000 CT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from radcycle.io import read_image
from radcycle.io.dicom.rtstruct import read_rtstruct

pytestmark = pytest.mark.realdata


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))


def _check(image_dir: Path, rtstruct: Path, nifti_image: Path, nifti_mask: Path) -> float:
    volume = read_image(image_dir)
    twin = read_image(nifti_image)
    np.testing.assert_array_equal(volume.array, twin.array)
    assert volume.geometry.is_close(twin.geometry, tol_mm=1e-3)
    (mask,) = read_rtstruct(rtstruct, volume).values()
    reference = read_image(nifti_mask).array > 0
    return _dice(mask.array, reference)


def test_ibsi_pat1(shared_data: Path):
    base = shared_data / "ibsi" / "ibsi_1_ct_radiomics_phantom"
    dice = _check(
        base / "dicom" / "image",
        base / "dicom" / "mask" / "DCM_RS_00060.dcm",
        base / "nifti" / "image" / "phantom.nii.gz",
        base / "nifti" / "mask" / "mask.nii.gz",
    )
    assert dice >= 0.98


@pytest.mark.parametrize("patient", ["STS_001", "STS_002", "STS_008"])
@pytest.mark.parametrize("modality", ["CT", "MR_T1", "PET"])
def test_ibsi_sarcoma_series(shared_data: Path, patient: str, modality: str):
    base = shared_data / "ibsi" / "ibsi_validation"
    rt = next((base / "dicom" / patient / modality / "mask").iterdir())
    dice = _check(
        base / "dicom" / patient / modality / "image",
        rt,
        base / "nifti" / patient / f"{modality}_image.nii.gz",
        base / "nifti" / patient / f"{modality}_mask.nii.gz",
    )
    assert dice >= 0.98


def test_jpeg2000_series_equals_gdcm_and_its_nifti_grid(shared_data: Path):
    base = shared_data / "totalsegmentator-example"
    volume = read_image(base / "example_ct_dicom")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(base / "example_ct_dicom")))
    reference = reader.Execute()
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(reference))
    # The NIfTI made from this series (its segmentation) covers the same voxel centres,
    # stored with the row axis flipped: compare the physical positions of the corners.
    twin = read_image(base / "example_seg_dicom.nii.gz")
    assert twin.array.shape == volume.array.shape
    nk, nj, ni = volume.array.shape
    corners = np.array([[i, j, k] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)])
    ours = {tuple(np.round(p, 2)) for p in volume.index_to_patient(corners)}
    theirs = {tuple(np.round(p, 2)) for p in twin.index_to_patient(corners)}
    assert ours == theirs
    # and the labelled organs lie inside the body (soft tissue, not air)
    labels = twin.array[:, ::-1, :] > 0
    assert float(volume.array[labels].mean()) > -200
