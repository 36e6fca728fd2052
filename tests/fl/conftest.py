"""Tiny sarcoma-shaped patient folders for the federation tests."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest


def write_patients(root: Path, n: int, *, shape: tuple[int, int, int] = (20, 20, 12)) -> Path:
    """``n`` patients STS_001.. with CT, T1 MR and PET, a sphere as lesion, 4 mm voxels."""
    rng = np.random.default_rng(7)
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    zz, yy, xx = np.indices(shape)
    for k in range(1, n + 1):
        folder = root / f"STS_{k:03d}"
        folder.mkdir(parents=True)
        centre = np.array(shape) / 2 + rng.uniform(-2, 2, 3)
        radius = rng.uniform(2.5, 4.0)
        lesion = (
            (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2
        ) <= radius**2
        for stem, inside, outside in (("CT", 40.0, -80.0), ("MR_T1", 1.5, 0.5), ("PET", 8.0, 1.0)):
            image = np.where(lesion, inside, outside) + rng.normal(0, 0.05 * abs(inside), shape)
            nib.save(
                nib.Nifti1Image(image.astype(np.float32), affine), folder / f"{stem}_image.nii.gz"
            )
            nib.save(
                nib.Nifti1Image(lesion.astype(np.uint8), affine), folder / f"{stem}_mask.nii.gz"
            )
    return root


@pytest.fixture
def patients(tmp_path: Path) -> Path:
    return write_patients(tmp_path / "source", 9)
