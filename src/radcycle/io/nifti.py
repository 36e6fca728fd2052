"""NIfTI, NRRD and MetaImage through SimpleITK, with RAS <-> LPS handled.

NIfTI stores its affine in RAS+ (x to the Right, y Anterior); ITK converts the
qform/sform to LPS on reading by negating the first two rows, so the geometry
SimpleITK reports is already DICOM patient coordinates. NRRD declares its
``space`` explicitly ("left-posterior-superior" or "right-anterior-superior") and
ITK converts likewise. We keep the ITK convention (``GetArrayFromImage`` is
``[k, j, i]``), so no axis juggling happens here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radcycle.domain import Geometry, Volume
from radcycle.errors import GeometryError, InputError
from radcycle.io.itk_checks import (
    check_data_file,
    check_finite,
    check_nifti_pixdim,
    check_spacing,
    nifti_values,
)

__all__ = ["from_sitk", "read_itk_image", "to_sitk", "write_itk_image"]


def from_sitk(image: sitk.Image, **metadata: object) -> Volume:
    """Convert a 3D SimpleITK image into a Volume (no copy of geometry semantics needed)."""
    if image.GetDimension() != 3:
        raise InputError("expected a 3D image", value=f"{image.GetDimension()}D")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            "expected one value per voxel", value=image.GetNumberOfComponentsPerPixel()
        )
    array = sitk.GetArrayFromImage(image)
    geometry = Geometry(
        origin=image.GetOrigin(),
        spacing=image.GetSpacing(),
        direction=np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3),
    )
    return Volume(array, geometry, dict(metadata))


def to_sitk(volume: Volume) -> sitk.Image:
    """Convert a Volume to a SimpleITK image with the same geometry."""
    array = volume.array
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetOrigin(tuple(float(v) for v in volume.origin))
    image.SetSpacing(tuple(float(v) for v in volume.spacing))
    image.SetDirection(tuple(float(v) for v in volume.direction.ravel()))
    return image


def read_itk_image(path: str | Path) -> Volume:
    """Read a NIfTI/NRRD/MetaImage file into a Volume in LPS mm.

    Example:
        >>> import tempfile, os
        >>> g = Geometry((1, 2, 3), (1, 1, 2))
        >>> v = Volume(np.arange(24, dtype=np.int16).reshape(2, 3, 4), g)
        >>> f = os.path.join(tempfile.mkdtemp(), "v.nii.gz")
        >>> _ = write_itk_image(v, f)
        >>> w = read_itk_image(f)
        >>> bool((w.array == v.array).all()), w.origin.tolist()
        (True, [1.0, 2.0, 3.0])
    """
    p = Path(path)
    nifti = ".nii" in p.name.lower()
    check_data_file(p)
    if nifti:
        check_nifti_pixdim(p)
    try:
        image = sitk.ReadImage(str(p))
    except RuntimeError as exc:
        raise InputError(f"cannot read image: {_itk_reason(exc)}", path=p) from exc
    if image.GetDimension() == 4 and image.GetSize()[3] == 1:
        image = image[:, :, :, 0]
    if image.GetDimension() == 2:
        raise InputError("a 2D image where a 3D volume is needed", path=p, value=image.GetSize())
    try:
        volume = from_sitk(image, source=str(p), format=p.suffix.lstrip(".").lower())
    except InputError as exc:
        raise InputError(exc.message, path=p, value=exc.value) from exc
    except GeometryError as exc:
        raise GeometryError(exc.message, path=p, tag=exc.tag, value=exc.value) from exc
    check_spacing(p, tuple(float(v) for v in volume.spacing))
    stored = nifti_values(p) if nifti else volume.array
    if stored is not None:
        check_finite(p, stored)
    return volume


def _itk_reason(exc: RuntimeError) -> str:
    """The last line of an ITK error, without the source-file noise, kept short."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "unknown ITK error")[:300]


def write_itk_image(volume: Volume, path: str | Path) -> Path:
    """Write a Volume to a NIfTI/NRRD/MetaImage file (format from the suffix)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        sitk.WriteImage(to_sitk(volume), str(p), useCompression=True)
    except RuntimeError as exc:
        raise InputError(f"cannot write image: {exc}", path=p) from exc
    return p
