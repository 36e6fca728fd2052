"""Hostile inputs to ``radcycle measure``: label masks, foreign grids, detached headers."""

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
    run_case,
    write_volume,
)


def _image_and_labels(folder: Path, labels: tuple[int, ...] = (1, 2)) -> tuple[Path, Path]:
    volume = chest_volume()
    image = write_volume(volume, folder / "ct.nii.gz")
    arr = np.zeros(volume.array.shape, dtype=np.uint8)
    for n, label in enumerate(labels):
        arr[18:22, 40 + 20 * n : 44 + 20 * n, 40 : 44 + 4 * n] = label
    return image, write_volume(volume.with_array(arr), folder / "labels.nii.gz")


def _label(folder: Path, roi: str | None) -> list[str]:
    image, mask = _image_and_labels(folder)
    return [str(image), str(mask), "--json", *(["--roi", roi] if roi else [])]


def _shifted_mask(folder: Path) -> list[str]:
    volume = chest_volume()
    image = write_volume(volume, folder / "ct.nii.gz")
    moved = Volume(
        np.ones(volume.array.shape, dtype=np.uint8),
        Geometry(volume.origin + 0.5, volume.spacing),
    )
    return [str(image), str(write_volume(moved, folder / "mask.nii.gz"))]


def _detached(folder: Path, data_file: str) -> list[str]:
    image, _mask = _image_and_labels(folder, (1,))
    header = (
        "NRRD0004\ntype: uint8\ndimension: 3\nspace: left-posterior-superior\n"
        "sizes: 120 96 40\nspace directions: (1,0,0) (0,1,0) (0,0,1.5)\n"
        f"space origin: (-60,-48,-30)\nencoding: raw\ndata file: {data_file}\n\n"
    )
    (folder / "mask.nhdr").write_text(header)
    return [str(image), str(folder / "mask.nhdr")]


def _gap(folder: Path) -> list[str]:
    series = dicom_series(folder / "ct", chest_array())
    (series / "s0019.dcm").unlink()
    _, mask = _image_and_labels(folder, (1,))
    return [str(series), str(mask), "--json"]


CASES = [
    Case(
        "interpolated-slice",
        _gap,
        exit_code=0,
        says=r'warning: series problem missing-slices.*"series_problems": \[\s*\{\s*"code": "miss',
    ),
    # RECIST axes of label 2 alone: 4 x 8 voxels in plane, so the long axis is 8 mm
    Case("label-chosen", lambda f: _label(f, "2"), exit_code=0, says=r'"long_axis_mm": 8\.'),
    Case("label-absent", lambda f: _label(f, "3"), says=r"label 3 is not in the mask.*\[1, 2\]"),
    Case("label-not-a-number", lambda f: _label(f, "GTV"), says=r"label number.*GTV"),
    Case("labels-merged-warned", lambda f: _label(f, None), exit_code=0, says=r"warning:.*--roi"),
    Case("grid-shifted", _shifted_mask, says=r"origin_mm", never=r"'mask': \(40, 96, 120\)"),
    Case("nrrd-data-file-absolute", lambda f: _detached(f, "/etc/passwd"), says="outside"),
    Case("nrrd-data-file-climbs", lambda f: _detached(f, "../../x.raw"), says="outside"),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_measure_hostile(case: Case, tmp_path: Path) -> None:
    run_case("measure", case, tmp_path)


HOSTILE = {"measure": CASES}
