"""The hostile-input suite: each case is data, run the same way for every command.

A :class:`Case` builds its input in a temporary folder and gives the command
line; :func:`run_case` runs it through the typer app and checks what every
command owes a hostile user: no traceback, the expected exit status, the
expected words in the output (the error names the file, tag or value), and an
error message short enough to read.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from click.testing import Result
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.domain import Geometry, Volume
from radcycle.io import write_image

#: The longest error message a user should have to read (characters).
MAX_ERROR_CHARS = 800

runner = CliRunner()


@dataclass(frozen=True)
class Case:
    """One hostile input and what the command must answer.

    Args:
        name: what is hostile about it (the test id).
        build: makes the input under a folder and returns the arguments after
            the command name.
        exit_code: 2 for a refusal, 0 where the command must carry on and say so.
        says: a regular expression the output must match (case-insensitive).
        never: a regular expression the output must not match (a silent wrong result).
    """

    name: str
    build: Callable[[Path], Sequence[str]]
    exit_code: int = 2
    says: str = ""
    never: str = ""


def run_case(command: str, case: Case, folder: Path) -> Result:
    """Run ``case`` and check the promises every command keeps."""
    args = [command, *case.build(folder)]
    result = runner.invoke(build_app(args), args)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{case.name}: traceback {result.exception!r}\n{output}")
    assert "Traceback" not in output, output
    assert result.exit_code == case.exit_code, (case.name, result.exit_code, output[-2000:])
    if case.exit_code == 2:
        errors = [line for line in output.splitlines() if line.startswith("error:")]
        assert errors, output
        assert all(len(line) <= MAX_ERROR_CHARS for line in errors), errors
    if case.says:
        assert re.search(case.says, output, re.I | re.S), (case.name, output[-2000:])
    if case.never:
        assert not re.search(case.never, output, re.I | re.S), (case.name, output[-2000:])
    return result


def ids(cases: Sequence[Case]) -> list[str]:
    return [c.name for c in cases]


# ---- builders shared by the command files ------------------------------------


def chest_array(shape: tuple[int, int, int] = (40, 96, 120), seed: int = 1) -> np.ndarray:
    """Soft tissue, two air-filled lungs and a 10 mm solid nodule in the right one."""
    rng = np.random.default_rng(seed)
    arr = np.full(shape, -1000.0)
    arr[:, 8:-8, 6:-6] = 40.0
    arr[2:-2, 14:-14, 12 : shape[2] // 2 - 6] = -850.0
    arr[2:-2, 14:-14, shape[2] // 2 + 6 : -12] = -850.0
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    centre = (shape[0] // 2, shape[1] // 2, shape[2] // 4 + 4)
    ball = np.sqrt(((k - centre[0]) * 1.5) ** 2 + (j - centre[1]) ** 2 + (i - centre[2]) ** 2)
    arr[ball <= 5.0] = 40.0
    arr += rng.normal(0, 15, shape)
    return arr


def chest_volume(**metadata: object) -> Volume:
    geometry = Geometry((-60.0, -48.0, -30.0), (1.0, 1.0, 1.5))
    return Volume(chest_array().astype(np.int16), geometry, dict(metadata))


def nodule_point(volume: Volume) -> str:
    k, j, i = volume.array.shape
    p = volume.index_to_patient([[i // 4 + 4, j // 2, k // 2]])[0]
    return ",".join(f"{v:.2f}" for v in p)


def write_volume(volume: Volume, path: Path) -> Path:
    return write_image(volume, path)


def raw_nifti(
    path: Path,
    array: np.ndarray,
    *,
    pixdim: tuple[float, float, float] | None = None,
    srow: np.ndarray | None = None,
) -> Path:
    """A ``.nii`` file with its header bytes patched (what other tools can write)."""
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    data = bytearray(path.read_bytes())
    if pixdim is not None:
        struct.pack_into("<3f", data, 80, *pixdim)
    if srow is not None:
        struct.pack_into("<h", data, 252, 0)  # qform_code: none
        struct.pack_into("<h", data, 254, 1)  # sform_code: scanner
        struct.pack_into("<12f", data, 280, *np.ravel(srow))
    path.write_bytes(bytes(data))
    return path


def dicom_series(
    folder: Path,
    array: np.ndarray,
    edit: Callable[[object, int], None] | None = None,
    *,
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.5),
    patient_id: str = "P1",
    study_date: str = "20240105",
) -> Path:
    """An axial CT series of ``array`` (HU), each slice passed to ``edit`` before saving."""
    from pydicom.uid import generate_uid

    from tests.io.factory import ct_slice

    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    di, dj, dk = spacing_mm
    for k, hu in enumerate(array):
        stored = np.clip(np.round(hu) + 1024, 0, 4095).astype(np.uint16)
        ds = ct_slice(
            stored,
            (-60.0, -48.0, -30.0 + k * dk),
            study=study,
            series=series,
            spacing=(dj, di),
            instance=k + 1,
            patient_id=patient_id,
        )
        ds.StudyDate = study_date
        if edit is not None:
            edit(ds, k)
        ds.save_as(folder / f"s{k:04d}.dcm", enforce_file_format=True)
    return folder


def patch_bytes(folder: Path, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` (same length) in every file: a malformed value."""
    if len(old) != len(new):
        raise ValueError("patch must keep the length")
    for path in folder.iterdir():
        path.write_bytes(path.read_bytes().replace(old, new))
