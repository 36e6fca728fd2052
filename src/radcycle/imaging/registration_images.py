"""Registration's images: coarse CT images with their body and lung masks, and
conversions between :class:`~radcycle.domain.Volume`, SimpleITK images and 4x4
homogeneous matrices (LPS, mm).

Shared by the whole-scan registration (:mod:`radcycle.imaging.registration`) and
the lesion-centred refinement (:mod:`radcycle.imaging.lesion_registration`).

Example:
    >>> m = np.diag([1.0, 1.0, 1.0, 1.0]); m[:3, 3] = (5.0, 0.0, 0.0)
    >>> np.allclose(matrix_of(affine_of(m, np.zeros(3))), m)
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.errors import GeometryError
from radcycle.imaging.hu import BODY_HU

__all__ = [
    "CLIP_HU",
    "Coarse",
    "affine_of",
    "apply_matrix",
    "body_and_lungs",
    "coarse",
    "lung_dice",
    "mask_like",
    "matrix_of",
    "rotation_deg",
    "scales",
    "to_sitk",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# CT: below -500 HU is air or lung; the body outline and the lungs are drawn there.
# Intensities outside this window carry no anatomy the registration needs
# (metal, dense bone, the air outside the patient all saturate).
CLIP_HU = (-1000.0, 400.0)
_ITK_NATIVE = tuple(np.dtype(t) for t in (np.int16, np.uint16, np.int32, np.float32))
# An air pocket smaller than this (mm3) inside the body is gas, not lung.
_MIN_LUNG_MM3 = 20_000.0


def apply_matrix(matrix: npt.ArrayLike, points_mm: npt.ArrayLike) -> FloatArray:
    """Apply a 4x4 homogeneous matrix to ``(N, 3)`` points.

    Example:
        >>> m = np.eye(4); m[:3, 3] = (1.0, 2.0, 3.0)
        >>> apply_matrix(m, [[0.0, 0.0, 0.0]]).tolist()
        [[1.0, 2.0, 3.0]]
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise GeometryError("a transform must be a finite 4x4 matrix", value=m.shape)
    pts = np.atleast_2d(np.asarray(points_mm, dtype=np.float64))
    result: FloatArray = pts @ m[:3, :3].T + m[:3, 3]
    return result


# --- conversions between Volume, SimpleITK images and 4x4 matrices ---------------


def to_sitk(array: npt.NDArray[Any], volume: Volume) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetOrigin(tuple(float(v) for v in volume.origin))
    image.SetSpacing(tuple(float(v) for v in volume.spacing))
    image.SetDirection(tuple(float(v) for v in volume.direction.flatten()))
    return image


def matrix_of(transform: sitk.Transform) -> FloatArray:
    """4x4 matrix of an affine-type transform, by probing the origin and unit vectors."""
    origin = np.array(transform.TransformPoint((0.0, 0.0, 0.0)), dtype=np.float64)
    out = np.eye(4)
    out[:3, 3] = origin
    for axis in range(3):
        unit = [0.0, 0.0, 0.0]
        unit[axis] = 1.0
        out[:3, axis] = np.array(transform.TransformPoint(tuple(unit))) - origin
    return out


def affine_of(matrix: FloatArray, centre: FloatArray) -> sitk.AffineTransform:
    """A SimpleITK affine equal to ``matrix``, parameterised about ``centre``."""
    tx = sitk.AffineTransform(3)
    a = matrix[:3, :3]
    tx.SetCenter(tuple(float(v) for v in centre))
    tx.SetMatrix(tuple(float(v) for v in a.flatten()))
    tx.SetTranslation(tuple(float(v) for v in matrix[:3, 3] + a @ centre - centre))
    return tx


def rotation_deg(matrix: FloatArray) -> float:
    u, _, vt = np.linalg.svd(matrix[:3, :3])
    rot = u @ vt
    cosine = (np.trace(rot) - 1.0) / 2.0
    return math.degrees(math.acos(float(np.clip(cosine, -1.0, 1.0))))


def scales(matrix: FloatArray) -> FloatArray:
    return np.asarray(np.linalg.svd(matrix[:3, :3], compute_uv=False), dtype=np.float64)


# --- coarse images and masks --------------------------------------------------------


@dataclass(frozen=True)
class Coarse:
    image: sitk.Image  # float32, clipped HU
    body: sitk.Image  # uint8
    lungs: sitk.Image  # uint8: the lungs, or all air where no lungs were found
    lung_voxels: int
    lungs_found: bool


def coarse(volume: Volume, voxel_mm: float) -> Coarse:
    factors = [max(1, round(voxel_mm / float(s))) for s in volume.spacing]
    array = np.asarray(volume.array)
    # Bin in the stored type (CT is int16: half the memory traffic of float32; the
    # block means are rounded to 1 HU, far below what registration resolves).
    if array.dtype not in _ITK_NATIVE:
        array = array.astype(np.float32)
    image = to_sitk(array, volume)
    if any(f > 1 for f in factors):
        image = sitk.BinShrink(image, factors)
    image = sitk.Cast(image, sitk.sitkFloat32)
    values = np.asarray(sitk.GetArrayViewFromImage(image))
    di, dj, dk = (float(s) for s in image.GetSpacing())
    body, lungs = body_and_lungs(values, (dk, dj, di))
    found = bool(lungs.any())
    if not found:
        # A crop that cuts through the chest: the lungs are not enclosed by the
        # body outline, so the quality figure falls back on all air-density voxels.
        lungs = values <= BODY_HU
    if not body.any():
        body = np.ones(values.shape, dtype=bool)
    clipped = sitk.Clamp(image, sitk.sitkFloat32, *CLIP_HU)
    return Coarse(clipped, mask_like(body, image), mask_like(lungs, image), int(lungs.sum()), found)


def mask_like(mask: BoolArray, reference: sitk.Image) -> sitk.Image:
    out = sitk.GetImageFromArray(mask.astype(np.uint8))
    out.CopyInformation(reference)
    return out


def body_and_lungs(
    values: npt.NDArray[Any], spacing_kji: tuple[float, float, float]
) -> tuple[BoolArray, BoolArray]:
    """Body outline and the air inside it (the lungs), on a coarse grid."""
    dense = values > BODY_HU
    labels, n = ndi.label(dense)
    if n == 0:
        empty = np.zeros(values.shape, dtype=bool)
        return empty, empty
    sizes = np.bincount(labels.ravel())[1:]
    body = labels == int(np.argmax(sizes)) + 1
    # Fill slice by slice: in 3D the airway connects the lungs to the air outside.
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndi.generate_binary_structure(2, 1)
    filled = ndi.binary_fill_holes(body, structure=in_plane)
    air = filled & ~body
    labels, n = ndi.label(air)
    lungs = np.zeros(values.shape, dtype=bool)
    if n:
        voxel_mm3 = float(np.prod(spacing_kji))
        volumes = np.bincount(labels.ravel())[1:] * voxel_mm3
        keep = np.flatnonzero(volumes >= _MIN_LUNG_MM3) + 1
        lungs = np.isin(labels, keep)
    return np.asarray(filled, dtype=bool), lungs


def lung_dice(fixed: Coarse, moving: Coarse, transform: sitk.Transform) -> float:
    """Dice of the lung masks where both scans have data (moving mapped into fixed)."""
    mapped = sitk.Resample(moving.lungs, fixed.lungs, transform, sitk.sitkNearestNeighbor, 0)
    ones = sitk.Image(moving.lungs.GetSize(), sitk.sitkUInt8) + 1
    ones.CopyInformation(moving.lungs)
    covered = sitk.Resample(ones, fixed.lungs, transform, sitk.sitkNearestNeighbor, 0)
    inside = sitk.GetArrayViewFromImage(covered) > 0
    a = (sitk.GetArrayViewFromImage(fixed.lungs) > 0) & inside
    b = (sitk.GetArrayViewFromImage(mapped) > 0) & inside
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / total if total else 0.0
