from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.errors import InputError
from radcycle.io import read_image, write_image


def test_nifti_ras_affine_becomes_lps(tmp_path: Path):
    data = np.arange(4 * 3 * 2, dtype=np.int16).reshape(4, 3, 2)  # nibabel order (i, j, k)
    affine = np.diag([0.5, 0.75, 2.0, 1.0])
    affine[:3, 3] = [10.0, 20.0, 30.0]
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "ras.nii.gz")
    v = read_image(tmp_path / "ras.nii.gz")
    # voxel (i, j, k) is at RAS (10 + .5 i, 20 + .75 j, 30 + 2 k) = LPS (-x, -y, z)
    np.testing.assert_allclose(v.index_to_patient([[2, 1, 1]])[0], [-11.0, -20.75, 32.0])
    assert v.array[1, 1, 2] == data[2, 1, 1]


def test_write_read_round_trip_oblique(tmp_path: Path):
    a = np.deg2rad(30)
    direction = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])
    v = Volume(
        np.random.default_rng(0).normal(size=(3, 4, 5)).astype(np.float32),
        Geometry((1, -2, 3), (0.5, 0.6, 2.5), direction),
    )
    for suffix in (".nii.gz", ".nrrd"):
        path = write_image(v, tmp_path / f"v{suffix}")
        w = read_image(path)
        np.testing.assert_array_equal(w.array, v.array)
        assert w.geometry.is_close(v.geometry, tol_mm=1e-4)


def test_unreadable_and_2d_images(tmp_path: Path):
    (tmp_path / "bad.nii.gz").write_bytes(b"not an image")
    with pytest.raises(InputError, match=r"bad\.nii\.gz"):
        read_image(tmp_path / "bad.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((4, 5), dtype=np.int16), np.eye(4)), tmp_path / "flat.nii")
    with pytest.raises(InputError, match="2D"):
        read_image(tmp_path / "flat.nii")
