"""A small radiomics cohort on disk: good cases and the bad rows archives always hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.io import write_image


def _case(folder: Path, seed: int, shape: tuple[int, int, int] = (14, 18, 18)) -> None:
    rng = np.random.default_rng(seed)
    geometry = Geometry((-10.0, -12.0, 4.0), (0.9, 0.9, 2.0))
    image = rng.normal(40.0, 30.0, shape).round().astype(np.int16)
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    centre = np.array(shape) / 2 + rng.uniform(-1, 1, 3)
    inside = ((k - centre[0]) * 2) ** 2 + (j - centre[1]) ** 2 + (i - centre[2]) ** 2 <= 25
    image[inside] += 60
    write_image(Volume(image, geometry), folder / f"case{seed}_image.nii.gz")
    write_image(Volume(inside.astype(np.uint8), geometry), folder / f"case{seed}_mask.nii.gz")


@pytest.fixture(scope="session")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cases.csv`` (pyradiomics columns plus ID): 4 good cases and 3 bad rows.

    Bad rows: a missing image, a mask of another shape, an image that is not an image.
    """
    folder = tmp_path_factory.mktemp("cohort")
    for seed in range(4):
        _case(folder, seed)
    _case(folder, 9, shape=(10, 12, 12))
    (folder / "garbage_image.nii.gz").write_bytes(b"this is not a NIfTI file\n" * 8)
    rows = [f"c{s},case{s}_image.nii.gz,case{s}_mask.nii.gz" for s in range(4)]
    rows += [
        "missing,nowhere_image.nii.gz,case0_mask.nii.gz",
        "shape,case0_image.nii.gz,case9_mask.nii.gz",
        "unreadable,garbage_image.nii.gz,case1_mask.nii.gz",
    ]
    (folder / "cases.csv").write_text("ID,Image,Mask\n" + "\n".join(rows) + "\n", "utf-8")
    return folder
