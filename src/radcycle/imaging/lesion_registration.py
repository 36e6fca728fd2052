"""Register one lesion: a similarity transform (rotation, translation and one
scale) fitted in a small box around the lesion, starting from the whole-scan
registration (:func:`radcycle.imaging.registration.register`), so that a baseline
mask can be carried to the follow-up (:func:`warp_mask`) and adapted to a lesion
that has grown or shrunk.

Nothing here reads files; volumes come in as :class:`~radcycle.domain.Volume`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk

from radcycle.domain import Volume
from radcycle.errors import AnalysisError, GeometryError
from radcycle.imaging.registration_images import (
    CLIP_HU,
    affine_of,
    apply_matrix,
    matrix_of,
    to_sitk,
)

__all__ = ["LesionRegistration", "refine_lesion", "warp_mask"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class LesionRegistration:
    """A lesion-centred similarity transform, baseline -> follow-up.

    Args:
        matrix: 4x4, LPS mm, baseline -> follow-up, valid near the lesion.
        scale: the isotropic scale of the lesion (follow-up size / baseline size).
        metric: the final metric value (lower is better).
    """

    matrix: FloatArray
    scale: float
    metric: float


def _crop_image(volume: Volume, centre_mm: FloatArray, half_mm: float) -> sitk.Image:
    ijk = volume.patient_to_index([centre_mm])[0]
    half = np.ceil(half_mm / volume.spacing).astype(np.int64)
    lo = np.maximum(np.floor(ijk).astype(int) - half, 0)
    hi = np.minimum(np.ceil(ijk).astype(int) + half + 1, np.asarray(volume.shape_ijk))
    if np.any(hi <= lo):
        raise AnalysisError("the lesion lies outside the image", value=centre_mm.tolist())
    box = volume.array[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
    image = to_sitk(np.asarray(box, dtype=np.float32), volume)
    image.SetOrigin(tuple(float(v) for v in volume.index_to_patient([lo])[0]))
    clamped: sitk.Image = sitk.Clamp(image, sitk.sitkFloat32, *CLIP_HU)
    return clamped


def refine_lesion(
    baseline: Volume,
    followup: Volume,
    lesion_mask: npt.NDArray[Any],
    initial: FloatArray,
    *,
    voxel_mm: float = 2.0,
    iterations: int = 60,
) -> LesionRegistration:
    """Register the region of one lesion with a similarity transform.

    The metric (mean squares on HU) is evaluated inside the lesion, slightly
    eroded, so the lesion's own texture drives the fit, not the chest wall or
    ribs beside it that do not grow with it. Inside-only fitting favours the
    smaller of two scales when the texture is faint, so the fit is run both ways
    (baseline lesion onto the follow-up, then the carried mask back onto the
    baseline) and the two scales are combined by their geometric mean, which
    cancels that bias to first order.

    Args:
        baseline: baseline image.
        followup: follow-up image.
        lesion_mask: the lesion on the baseline grid (``[k, j, i]``, non-zero inside).
        initial: global baseline -> follow-up matrix (from :func:`register`).
        voxel_mm: the lesion boxes are binned to about this voxel size.
        iterations: optimizer iterations per direction.

    Raises:
        AnalysisError: the mask is empty or the lesion lies outside the follow-up.
    """
    mask = np.asarray(lesion_mask) > 0
    if mask.shape != baseline.array.shape or not mask.any():
        raise AnalysisError("the lesion mask is empty or not on the baseline grid")
    forward = _similarity(baseline, followup, mask, initial, voxel_mm, iterations)
    carried = warp_mask(mask, baseline, followup, forward.matrix)
    if not carried.any():
        return forward
    back = np.asarray(np.linalg.inv(forward.matrix), dtype=np.float64)
    reverse = _similarity(followup, baseline, carried, back, voxel_mm, iterations)
    scale = math.sqrt(forward.scale / reverse.scale)
    centre = _mask_centre(baseline, mask)
    mapped = apply_matrix(forward.matrix, [centre])[0]
    # Rescale about the mapped lesion centre: M' = T(c') S(scale / s_fwd) T(-c') M.
    adjust = np.eye(4)
    adjust[:3, :3] *= scale / forward.scale
    adjust[:3, 3] = mapped - adjust[:3, :3] @ mapped
    metric = (forward.metric + reverse.metric) / 2.0
    return LesionRegistration(adjust @ forward.matrix, scale, metric)


def _mask_centre(volume: Volume, mask: BoolArray) -> FloatArray:
    kji = np.argwhere(mask)
    centre: FloatArray = volume.index_to_patient([kji.mean(axis=0)[::-1]])[0]
    return centre


def _similarity(
    fixed_volume: Volume,
    moving_volume: Volume,
    mask: BoolArray,
    initial: FloatArray,
    voxel_mm: float,
    iterations: int,
) -> LesionRegistration:
    kji = np.argwhere(mask)
    centre = _mask_centre(fixed_volume, mask)
    extent = (kji.max(axis=0) - kji.min(axis=0) + 1)[::-1] * fixed_volume.spacing
    half = float(extent.max()) / 2.0 + 10.0
    fixed = _binned(_crop_image(fixed_volume, centre, half), voxel_mm)
    region = sitk.Cast(to_sitk(mask.astype(np.uint8), fixed_volume), sitk.sitkUInt8)
    region = sitk.Resample(region, fixed, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    # One voxel in from the outline: partial-volume edge voxels carry no texture.
    eroded = sitk.BinaryErode(region, [1, 1, 1])
    if sitk.GetArrayViewFromImage(eroded).any():
        region = eroded
    moving_centre = apply_matrix(initial, [centre])[0]
    moving = _binned(_crop_image(moving_volume, moving_centre, half * 1.5), voxel_mm)
    rotation = _orthonormal(initial[:3, :3])

    def start(scale: float) -> sitk.Similarity3DTransform:
        tx = sitk.Similarity3DTransform()
        tx.SetCenter(tuple(float(v) for v in centre))
        tx.SetMatrix(tuple(float(v) for v in rotation.flatten()))
        tx.SetTranslation(tuple(float(v) for v in moving_centre - centre))
        tx.SetScale(scale)
        return tx

    def method() -> Any:
        reg = sitk.ImageRegistrationMethod()
        reg.SetMetricAsMeanSquares()
        reg.SetMetricFixedMask(region)
        reg.SetInterpolator(sitk.sitkLinear)
        return reg

    # A coarse scan of scales first: the optimizer alone stalls in local minima
    # when a lesion has changed size by a third.
    trials = []
    for scale in np.exp(np.linspace(math.log(0.5), math.log(2.0), 15)):
        reg = method()
        reg.SetInitialTransform(start(float(scale)))
        trials.append((float(reg.MetricEvaluate(fixed, moving)), float(scale)))
    tx = start(min(trials)[1])
    reg = method()
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-4, numberOfIterations=iterations, relaxationFactor=0.7
    )
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([2, 1])
    reg.SetSmoothingSigmasPerLevel([1.0, 0.0])
    reg.SetInitialTransform(tx, inPlace=True)
    try:
        reg.Execute(fixed, moving)
    except RuntimeError as exc:
        raise AnalysisError(f"lesion registration did not run: {exc}") from exc
    return LesionRegistration(matrix_of(tx), float(tx.GetScale()), float(reg.GetMetricValue()))


def _binned(image: sitk.Image, voxel_mm: float) -> sitk.Image:
    factors = [max(1, round(voxel_mm / s)) for s in image.GetSpacing()]
    if all(f == 1 for f in factors):
        return image
    binned: sitk.Image = sitk.BinShrink(image, factors)
    return binned


def _orthonormal(a: FloatArray) -> FloatArray:
    u, _, vt = np.linalg.svd(a)
    rot: FloatArray = u @ vt
    return rot


def warp_mask(
    mask: npt.NDArray[Any], source: Volume, target: Volume, matrix: npt.ArrayLike
) -> BoolArray:
    """Carry a mask from ``source``'s grid onto ``target``'s grid.

    ``matrix`` maps source LPS points to target LPS points (baseline -> follow-up).
    The mask is interpolated linearly and cut at 0.5, so its outline moves
    smoothly rather than in whole voxels.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if np.asarray(mask).shape != source.array.shape:
        raise GeometryError(
            "mask shape differs from its grid", value=(np.asarray(mask).shape, source.array.shape)
        )
    image = to_sitk((np.asarray(mask) > 0).astype(np.float32), source)
    reference = sitk.Image(list(target.shape_ijk), sitk.sitkFloat32)
    reference.SetOrigin(tuple(float(v) for v in target.origin))
    reference.SetSpacing(tuple(float(v) for v in target.spacing))
    reference.SetDirection(tuple(float(v) for v in target.direction.flatten()))
    # Resample pulls: each target point is looked up at inverse(matrix) of it.
    inverse = affine_of(np.asarray(np.linalg.inv(m), dtype=np.float64), np.zeros(3))
    warped = sitk.Resample(image, reference, inverse, sitk.sitkLinear, 0.0)
    return np.asarray(sitk.GetArrayFromImage(warped) >= 0.5, dtype=bool)
