"""Checks on NIfTI, NRRD and MetaImage files that SimpleITK lets through silently.

* a NIfTI ``pixdim`` of 0 is read as 1 mm by ITK: refused here from the raw header;
* NaN and infinite voxels of a NIfTI are read as 0 by ITK: refused here (nibabel
  reads the values as stored);
* a spacing outside :data:`PLAUSIBLE_SPACING_MM` is a broken header;
* a detached header (``.nhdr``, ``.mhd``) naming a data file outside its own
  folder (``/etc/passwd``, ``../../x``) is refused before anything is read.

Every error names the file, the header field and the value.
"""

from __future__ import annotations

import gzip
import math
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radcycle.errors import DataFormatError, GeometryError, InputError

__all__ = [
    "PLAUSIBLE_SPACING_MM",
    "check_data_file",
    "check_finite",
    "check_nifti_pixdim",
    "check_spacing",
    "nifti_values",
]

#: Voxel spacing (mm) a medical image can have; outside it the header is wrong.
PLAUSIBLE_SPACING_MM = (0.01, 100.0)

# Detached-header fields that name the voxel file, per format.
_DATA_FIELD = {
    ".nhdr": re.compile(r"^\s*data\s?file\s*:\s*(.+?)\s*$", re.I | re.M),
    ".mhd": re.compile(r"^\s*ElementDataFile\s*=\s*(.+?)\s*$", re.I | re.M),
}
_HEADER_BYTES = 65536


def check_data_file(path: Path) -> None:
    """Refuse a detached header whose data file lies outside the header's folder.

    Raises:
        InputError: the data file is absolute or climbs out of the folder.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "x.nhdr").write_text("NRRD0004\\ndata file: /etc/passwd\\n\\n")
        >>> try:
        ...     check_data_file(folder / "x.nhdr")
        ... except InputError as exc:
        ...     print(exc.message, exc.value)
        the data file lies outside the header's folder /etc/passwd
    """
    pattern = next((v for k, v in _DATA_FIELD.items() if path.name.lower().endswith(k)), None)
    if pattern is None:
        return
    with path.open("rb") as fh:
        head = fh.read(_HEADER_BYTES).decode("latin-1")
    folder = path.parent.resolve()
    for match in pattern.finditer(head.split("\n\n", 1)[0]):
        value = match.group(1)
        if value.upper() == "LOCAL" or value.upper().startswith("LIST"):
            continue
        name = value.split()[0] if "%" in value else value
        target = (folder / name).resolve()
        if not target.is_relative_to(folder):
            field = "data file" if pattern is _DATA_FIELD[".nhdr"] else "ElementDataFile"
            raise InputError(
                "the data file lies outside the header's folder", path=path, tag=field, value=value
            )


def _nifti_header(path: Path) -> bytes:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            return bytes(fh.read(540))
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read the NIfTI header: {exc}", path=path) from exc


def check_nifti_pixdim(path: Path) -> None:
    """Refuse a NIfTI whose ``pixdim[1..3]`` are zero, negative or not finite.

    ITK reads a zero pixdim as 1 mm, which would turn every size into a guess.

    Raises:
        GeometryError: a spatial pixdim is not a positive finite number.
    """
    raw = _nifti_header(path)
    for order in ("<", ">"):
        if len(raw) >= 348 and struct.unpack(f"{order}i", raw[:4])[0] == 348:
            pixdim: tuple[float, ...] = struct.unpack(f"{order}3f", raw[80:92])
            break
        if len(raw) >= 540 and struct.unpack(f"{order}i", raw[:4])[0] == 540:
            pixdim = struct.unpack(f"{order}3d", raw[112:136])
            break
    else:
        return  # not a NIfTI header ITK would read either; ITK says why
    if not all(math.isfinite(v) and v > 0 for v in pixdim):
        raise GeometryError(
            "voxel size pixdim[1..3] must be positive numbers (ITK would read 1 mm)",
            path=path,
            tag="pixdim",
            value=[float(v) for v in pixdim],
        )


def check_spacing(path: Path, spacing: tuple[float, ...]) -> None:
    """Refuse a spacing outside :data:`PLAUSIBLE_SPACING_MM`.

    Example:
        >>> try:
        ...     check_spacing(Path("a.nii"), (1.0, 1.0, 1e6))
        ... except GeometryError as exc:
        ...     print(exc.path, exc.value)
        a.nii [1.0, 1.0, 1000000.0]
    """
    lo, hi = PLAUSIBLE_SPACING_MM
    if not all(lo <= v <= hi for v in spacing):
        raise GeometryError(
            f"implausible voxel spacing (mm), not within {lo:g}-{hi:g}",
            path=path,
            tag="spacing",
            value=[float(v) for v in spacing],
        )


def check_finite(path: Path, array: npt.NDArray[np.generic]) -> None:
    """Refuse NaN or infinite voxels: they are neither 0 nor tissue.

    Raises:
        DataFormatError: some voxels are not finite.
    """
    if not np.issubdtype(array.dtype, np.floating):
        return
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        raise DataFormatError(
            f"{bad} of {finite.size} voxels are NaN or infinite", path=path, tag="voxel values"
        )


def nifti_values(path: Path) -> npt.NDArray[np.generic] | None:
    """The NIfTI's stored float values as nibabel reads them (ITK turns NaN into 0).

    None for integer data, which cannot hold NaN.
    """
    import nibabel as nib

    try:
        image: Any = nib.load(str(path))
    except (nib.filebasedimages.ImageFileError, OSError, ValueError, EOFError) as exc:
        raise DataFormatError(f"cannot read the NIfTI values: {exc}", path=path) from exc
    if not np.issubdtype(image.header.get_data_dtype(), np.floating):
        return None
    values: npt.NDArray[np.generic] = np.asanyarray(image.dataobj)
    return values
