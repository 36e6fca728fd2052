"""Hostile inputs to ``radcycle segment``: broken geometry, non-finite voxels, one slice.

The image readers are shared by every command; their cases run here, through
the command that reads an image and measures in millimetres straight away.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from tests.hostile.cases import (
    Case,
    chest_array,
    chest_volume,
    dicom_series,
    ids,
    nodule_point,
    patch_bytes,
    raw_nifti,
    run_case,
    write_volume,
)

SEED = nodule_point(chest_volume())
SHEAR = np.array([[1, 0.5, 0, 0], [0, 1, 0, 0], [0, 0, 1.5, 0]])


def _seg(image: Path, folder: Path, seed: str = SEED) -> list[str]:
    return [str(image), "--point", seed, "--out", str(folder / "mask.nii.gz")]


def _dicom(folder: Path, edit: object = None, **kw: object) -> Path:
    return dicom_series(folder / "ct", chest_array(), edit, **kw)  # type: ignore[arg-type]


def _bad_spacing_text(folder: Path) -> list[str]:
    series = _dicom(folder, spacing_mm=(7.25, 7.25, 1.5))
    patch_bytes(series, b"7.25\\7.25 ", b"abc\\1     ")
    return _seg(series, folder)


def _no_spacing(folder: Path) -> list[str]:
    return _seg(_dicom(folder, lambda ds, k: delattr(ds, "PixelSpacing")), folder)


def _imager_spacing_only(folder: Path) -> list[str]:
    def edit(ds: object, k: int) -> None:
        ds.ImagerPixelSpacing = ds.PixelSpacing  # type: ignore[attr-defined]
        del ds.PixelSpacing  # type: ignore[attr-defined]

    return _seg(_dicom(folder, edit), folder)


def _no_orientation(folder: Path) -> list[str]:
    return _seg(_dicom(folder, lambda ds, k: delattr(ds, "ImageOrientationPatient")), folder)


def _nan_slope(folder: Path) -> list[str]:
    def edit(ds: object, k: int) -> None:
        ds.RescaleSlope = "1.25"  # type: ignore[attr-defined]

    series = _dicom(folder, edit)
    patch_bytes(series, b"1.25", b"NaN ")
    return _seg(series, folder)


def _far_slice(folder: Path) -> list[str]:
    def edit(ds: object, k: int) -> None:
        if k == 0:
            ds.ImagePositionPatient = [-60.0, -48.0, -1.5e6]  # type: ignore[attr-defined]

    return _seg(_dicom(folder, edit), folder)


def _nifti(folder: Path, array: np.ndarray, **kw: object) -> list[str]:
    return _seg(raw_nifti(folder / "ct.nii", array.astype(np.float32), **kw), folder)  # type: ignore[arg-type]


def _nan_slab(folder: Path) -> list[str]:
    arr = chest_array()
    arr[10:14] = np.nan
    return _nifti(folder, arr)


def _inf_voxel(folder: Path) -> list[str]:
    arr = chest_array()
    arr[3, 3, 3] = -np.inf
    return _nifti(folder, arr)


def _nrrd_nan(folder: Path) -> list[str]:
    arr = chest_array().astype(np.float32)
    arr[20, 40, 30] = np.nan
    vol = chest_volume().with_array(arr)
    return _seg(write_volume(vol, folder / "ct.nrrd"), folder)


def _one_slice(folder: Path) -> list[str]:
    vol = chest_volume()
    origin = vol.index_to_patient([[0, 0, 20]])[0]
    flat = Volume(vol.array[20:21].copy(), Geometry(origin, vol.spacing))
    point = SEED.rsplit(",", 1)[0] + f",{flat.index_to_patient([[0, 0, 0]])[0][2]:.2f}"
    return _seg(write_volume(flat, folder / "one.nii.gz"), folder, point)


def _outside(folder: Path) -> list[str]:
    return _seg(write_volume(chest_volume(), folder / "ct.nii.gz"), folder, "900,900,900")


CASES = [
    Case("pixel-spacing-abc", _bad_spacing_text, says=r"PixelSpacing.*abc"),
    Case(
        "pixel-spacing-zero",
        lambda f: _seg(_dicom(f, spacing_mm=(0.0, 0.0, 1.5)), f),
        says=r"PixelSpacing \(0028,0030\) is not two positive numbers",
    ),
    Case(
        "pixel-spacing-a-million-mm",
        lambda f: _seg(_dicom(f, spacing_mm=(1e6, 1e6, 1.5)), f),
        says=r"PixelSpacing \(0028,0030\) implausible",
    ),
    Case("pixel-spacing-missing", _no_spacing, says=r"PixelSpacing \(0028,0030\) missing"),
    Case("imager-spacing-only", _imager_spacing_only, says=r"only ImagerPixelSpacing"),
    Case("orientation-missing", _no_orientation, says=r"ImageOrientationPatient"),
    Case("rescale-slope-nan", _nan_slope, says=r"RescaleSlope.*s0000\.dcm|s0000\.dcm.*Slope"),
    Case("slice-a-million-mm-away", _far_slice, says=r"ImagePositionPatient"),
    Case("nifti-pixdim-zero", lambda f: _nifti(f, chest_array(), pixdim=(1, 1, 0)), says="pixdim"),
    Case(
        "nifti-spacing-1e6",
        lambda f: _nifti(f, chest_array(), pixdim=(1e6, 1, 1)),
        says=r"ct\.nii.*implausible",
    ),
    Case(
        "nifti-sheared-direction",
        lambda f: _nifti(f, chest_array(), srow=SHEAR),
        says=r"ct\.nii.*orthonormal",
    ),
    Case("nifti-nan-slab", _nan_slab, says=r"ct\.nii.*NaN or infinite"),
    Case("nifti-infinite-voxel", _inf_voxel, says=r"ct\.nii.*NaN or infinite"),
    Case("nrrd-nan-voxel", _nrrd_nan, says=r"ct\.nrrd.*NaN or infinite"),
    Case("one-slice-volume", _one_slice, says=r"slice"),
    Case("seed-outside-image", _outside, says="outside"),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_segment_hostile(case: Case, tmp_path: Path) -> None:
    run_case("segment", case, tmp_path)


HOSTILE = {"segment": CASES}
