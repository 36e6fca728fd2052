"""One entry point to read an image into a :class:`~radcycle.domain.Volume`.

``read_image(path)`` accepts a NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``,
``.nhdr``), MetaImage (``.mha``, ``.mhd``) file, or a DICOM series (a folder
holding one series, or one file of it).
"""

from __future__ import annotations

import logging
from pathlib import Path

from radcycle.domain import Volume
from radcycle.errors import InputError, PathNotFoundError

log = logging.getLogger(__name__)

_ITK_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


def is_itk_image_path(path: Path) -> bool:
    """Whether ``path`` names a NIfTI/NRRD/MetaImage file by its suffix."""
    name = path.name.lower()
    return any(name.endswith(s) for s in _ITK_SUFFIXES)


def read_image(path: str | Path) -> Volume:
    """Read a NIfTI/NRRD/MetaImage file or a DICOM series into a Volume (LPS mm).

    Args:
        path: an image file, a DICOM file, or a folder holding one DICOM series.

    Raises:
        PathNotFoundError: the path does not exist.
        InputError: the file cannot be read as an image (a subclass says why).
    """
    p = Path(path)
    if not p.exists():
        raise PathNotFoundError("no such file or folder", path=p)
    if p.is_file() and is_itk_image_path(p):
        from radcycle.io.nifti import read_itk_image

        return read_itk_image(p)
    from radcycle.io.dicom.series import read_dicom_volume

    return read_dicom_volume(p)


def write_image(volume: Volume, path: str | Path) -> Path:
    """Write a Volume to NIfTI/NRRD/MetaImage, chosen by the suffix of ``path``."""
    p = Path(path)
    if not is_itk_image_path(p):
        raise InputError(f"unknown image suffix; use one of {', '.join(_ITK_SUFFIXES)}", path=p)
    from radcycle.io.nifti import write_itk_image

    return write_itk_image(volume, p)
