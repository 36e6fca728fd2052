"""Register a follow-up CT to its baseline: rigid, then affine, on coarse images.

:func:`register` answers "where is this baseline point on the follow-up scan?"
as a 4x4 matrix acting on homogeneous DICOM patient coordinates (LPS, mm):
``p_followup = M @ p_baseline``. Both images are binned to about 4 mm voxels
(block means, so noise averages out), clipped to the lung-to-soft-tissue HU range,
and registered with SimpleITK in two resolution levels:

1. initial alignment of the centres of mass of the two coarse lung masks;
2. rigid (Euler 3D) with Mattes mutual information, restricted to the baseline's
   body outline;
3. affine from the rigid result, kept only where it does not lower the overlap
   of the lung masks (it absorbs breath-hold and scale differences).

Quality is the Dice coefficient of the lung masks after registration (baseline
mask against the follow-up mask mapped back), counted where both scans have
data; a registration whose Dice falls under ``min_lung_dice`` or whose rotation
or scale is implausible for a repositioned patient is flagged as failed, and the
caller decides what to do (the tracker widens its gate).

:func:`refine_lesion` re-registers a small box around one lesion with a
similarity transform (rotation, translation and one scale), driven by the lesion
and its margin, so a baseline mask can be carried to the follow-up and adapted to
a lesion that has grown or shrunk; :func:`warp_mask` does the carrying.

Nothing here reads files; volumes come in as :class:`~radcycle.domain.Volume`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.errors import AnalysisError, GeometryError
from radcycle.imaging.hu import BODY_HU

__all__ = [
    "LesionRegistration",
    "RegistrationResult",
    "RegistrationSettings",
    "apply_matrix",
    "refine_lesion",
    "register",
    "warp_mask",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# CT: below -500 HU is air or lung; the body outline and the lungs are drawn there.
# Intensities outside this window carry no anatomy the registration needs
# (metal, dense bone, the air outside the patient all saturate).
_CLIP_HU = (-1000.0, 400.0)
_ITK_NATIVE = tuple(np.dtype(t) for t in (np.int16, np.uint16, np.int32, np.float32))
# An air pocket smaller than this (mm3) inside the body is gas, not lung.
_MIN_LUNG_MM3 = 20_000.0


@dataclass(frozen=True)
class RegistrationSettings:
    """How :func:`register` runs.

    Args:
        voxel_mm: target voxel size of the coarse images (binning by whole factors).
        shrink_factors: extra multi-resolution shrink per level, coarse first.
        iterations: optimizer iterations per stage (rigid, affine).
        sampling: fraction of the fixed voxels the metric samples.
        affine: run the affine stage after the rigid one.
        min_lung_dice: below this lung-mask Dice the registration is flagged failed.
        max_rotation_deg: larger rotations are implausible for a repositioned patient.
        max_scale_change: larger affine scale changes (fraction) are implausible.
        threads: worker threads for SimpleITK.
        random_seed: seed of the metric's random sampling (results are repeatable).
    """

    voxel_mm: float = 4.0
    shrink_factors: tuple[int, ...] = (2, 1)
    iterations: tuple[int, int] = (100, 30)
    sampling: float = 0.1
    affine: bool = True
    min_lung_dice: float = 0.80
    max_rotation_deg: float = 20.0
    max_scale_change: float = 0.15
    threads: int = 2
    random_seed: int = 20240229


@dataclass(frozen=True)
class RegistrationResult:
    """Where baseline points lie on a follow-up scan.

    Args:
        matrix: 4x4, homogeneous LPS mm, baseline -> follow-up.
        kind: ``affine`` or ``rigid`` (the stage kept).
        lung_dice: Dice of the coarse lung masks after registration (0..1).
        lung_dice_before: the same with the identity transform, for comparison.
        failed: True where the result should not be trusted.
        reason: why it failed, or how it was judged good (for the report).
        seconds: wall time.
        details: metric values, iterations, rotation and scale, for provenance.
    """

    matrix: FloatArray
    kind: str
    lung_dice: float
    lung_dice_before: float
    failed: bool
    reason: str
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def map_points(self, points_mm: npt.ArrayLike) -> FloatArray:
        """Baseline LPS points ``(N, 3)`` -> follow-up LPS points."""
        return apply_matrix(self.matrix, points_mm)

    def map_back(self, points_mm: npt.ArrayLike) -> FloatArray:
        """Follow-up LPS points ``(N, 3)`` -> baseline LPS points."""
        return apply_matrix(np.linalg.inv(self.matrix), points_mm)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (matrix rounded to 1e-5)."""
        return {
            "matrix_baseline_to_followup_lps": np.round(self.matrix, 5).tolist(),
            "kind": self.kind,
            "lung_dice": round(self.lung_dice, 4),
            "lung_dice_before": round(self.lung_dice_before, 4),
            "failed": self.failed,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "details": self.details,
        }


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


def _to_sitk(array: npt.NDArray[Any], volume: Volume) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetOrigin(tuple(float(v) for v in volume.origin))
    image.SetSpacing(tuple(float(v) for v in volume.spacing))
    image.SetDirection(tuple(float(v) for v in volume.direction.flatten()))
    return image


def _matrix_of(transform: sitk.Transform) -> FloatArray:
    """4x4 matrix of an affine-type transform, by probing the origin and unit vectors."""
    origin = np.array(transform.TransformPoint((0.0, 0.0, 0.0)), dtype=np.float64)
    out = np.eye(4)
    out[:3, 3] = origin
    for axis in range(3):
        unit = [0.0, 0.0, 0.0]
        unit[axis] = 1.0
        out[:3, axis] = np.array(transform.TransformPoint(tuple(unit))) - origin
    return out


def _affine_of(matrix: FloatArray, centre: FloatArray) -> sitk.AffineTransform:
    """A SimpleITK affine equal to ``matrix``, parameterised about ``centre``."""
    tx = sitk.AffineTransform(3)
    a = matrix[:3, :3]
    tx.SetCenter(tuple(float(v) for v in centre))
    tx.SetMatrix(tuple(float(v) for v in a.flatten()))
    tx.SetTranslation(tuple(float(v) for v in matrix[:3, 3] + a @ centre - centre))
    return tx


def _rotation_deg(matrix: FloatArray) -> float:
    u, _, vt = np.linalg.svd(matrix[:3, :3])
    rot = u @ vt
    cosine = (np.trace(rot) - 1.0) / 2.0
    return math.degrees(math.acos(float(np.clip(cosine, -1.0, 1.0))))


def _scales(matrix: FloatArray) -> FloatArray:
    return np.asarray(np.linalg.svd(matrix[:3, :3], compute_uv=False), dtype=np.float64)


# --- coarse images and masks --------------------------------------------------------


@dataclass(frozen=True)
class _Coarse:
    image: sitk.Image  # float32, clipped HU
    body: sitk.Image  # uint8
    lungs: sitk.Image  # uint8: the lungs, or all air where no lungs were found
    lung_voxels: int
    lungs_found: bool


def _coarse(volume: Volume, voxel_mm: float) -> _Coarse:
    factors = [max(1, round(voxel_mm / float(s))) for s in volume.spacing]
    array = np.asarray(volume.array)
    # Bin in the stored type (CT is int16: half the memory traffic of float32; the
    # block means are rounded to 1 HU, far below what registration resolves).
    if array.dtype not in _ITK_NATIVE:
        array = array.astype(np.float32)
    image = _to_sitk(array, volume)
    if any(f > 1 for f in factors):
        image = sitk.BinShrink(image, factors)
    image = sitk.Cast(image, sitk.sitkFloat32)
    values = np.asarray(sitk.GetArrayViewFromImage(image))
    di, dj, dk = (float(s) for s in image.GetSpacing())
    body, lungs = _body_and_lungs(values, (dk, dj, di))
    found = bool(lungs.any())
    if not found:
        # A crop that cuts through the chest: the lungs are not enclosed by the
        # body outline, so the quality figure falls back on all air-density voxels.
        lungs = values <= BODY_HU
    if not body.any():
        body = np.ones(values.shape, dtype=bool)
    clipped = sitk.Clamp(image, sitk.sitkFloat32, *_CLIP_HU)
    return _Coarse(
        clipped, _mask_like(body, image), _mask_like(lungs, image), int(lungs.sum()), found
    )


def _mask_like(mask: BoolArray, reference: sitk.Image) -> sitk.Image:
    out = sitk.GetImageFromArray(mask.astype(np.uint8))
    out.CopyInformation(reference)
    return out


def _body_and_lungs(
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


def _lung_dice(fixed: _Coarse, moving: _Coarse, transform: sitk.Transform) -> float:
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


# --- the registration itself ----------------------------------------------------------


def _method(settings: RegistrationSettings, iterations: int, levels: bool) -> Any:
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(settings.sampling, settings.random_seed)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0,
        minStep=0.01,
        numberOfIterations=iterations,
        relaxationFactor=0.6,
        gradientMagnitudeTolerance=1e-6,
    )
    reg.SetOptimizerScalesFromPhysicalShift()
    factors = list(settings.shrink_factors) if levels else [1]
    reg.SetShrinkFactorsPerLevel(factors)
    reg.SetSmoothingSigmasPerLevel([max(0.0, f - 1.0) for f in factors])
    reg.SetNumberOfThreads(settings.threads)
    return reg


def _initial(fixed: _Coarse, moving: _Coarse) -> sitk.Transform:
    # Centres of mass of the lungs; of the whole image where either scan has no lungs.
    use_lungs = fixed.lungs_found and moving.lungs_found
    a, b = (fixed.lungs, moving.lungs) if use_lungs else (fixed.image, moving.image)
    mode = (
        sitk.CenteredTransformInitializerFilter.MOMENTS
        if use_lungs
        else sitk.CenteredTransformInitializerFilter.GEOMETRY
    )
    start: sitk.Transform = sitk.CenteredTransformInitializer(
        sitk.Cast(a, sitk.sitkFloat32),
        sitk.Cast(b, sitk.sitkFloat32),
        sitk.Euler3DTransform(),
        mode,
    )
    return start


def _run(reg: Any, fixed: _Coarse, moving: _Coarse, start: sitk.Transform) -> sitk.Transform:
    reg.SetInitialTransform(start, inPlace=False)
    reg.SetMetricFixedMask(fixed.body)
    try:
        result: sitk.Transform = reg.Execute(fixed.image, moving.image)
    except RuntimeError as exc:
        raise AnalysisError(f"registration did not run: {exc}") from exc
    return result


def register(
    baseline: Volume, followup: Volume, settings: RegistrationSettings | None = None
) -> RegistrationResult:
    """Register ``followup`` to ``baseline``: rigid, then affine (CT, HU).

    Args:
        baseline: the reference scan (fixed image).
        followup: the later scan (moving image).
        settings: tuning; the defaults suit chest CT.

    Returns:
        The baseline -> follow-up matrix (LPS mm), its lung-mask Dice and whether
        it failed the plausibility checks.

    Raises:
        AnalysisError: SimpleITK could not run (e.g. the images do not overlap).
    """
    settings = settings or RegistrationSettings()
    started = time.perf_counter()
    fixed = _coarse(baseline, settings.voxel_mm)
    moving = _coarse(followup, settings.voxel_mm)
    initial = _initial(fixed, moving)
    dice_before = _lung_dice(fixed, moving, sitk.Transform(3, sitk.sitkIdentity))
    rigid_tx = _run(_method(settings, settings.iterations[0], True), fixed, moving, initial)
    rigid = _matrix_of(rigid_tx)
    rigid_dice = _lung_dice(fixed, moving, rigid_tx)
    matrix, kind, dice = rigid, "rigid", rigid_dice
    details: dict[str, Any] = {
        "rigid_lung_dice": round(rigid_dice, 4),
        "dice_of": "lung masks" if fixed.lungs_found and moving.lungs_found else "air masks",
    }
    if settings.affine:
        centre = np.array(
            fixed.image.TransformContinuousIndexToPhysicalPoint(
                [(s - 1) / 2.0 for s in fixed.image.GetSize()]
            )
        )
        reg = _method(settings, settings.iterations[1], False)
        affine_tx = _run(reg, fixed, moving, _affine_of(rigid, centre))
        affine_dice = _lung_dice(fixed, moving, affine_tx)
        details["affine_lung_dice"] = round(affine_dice, 4)
        affine = _matrix_of(affine_tx)
        plausible = np.all(np.abs(_scales(affine) - 1.0) <= settings.max_scale_change)
        if affine_dice >= rigid_dice - 0.005 and plausible:
            matrix, kind, dice = affine, "affine", affine_dice
    rotation = _rotation_deg(matrix)
    details.update(
        rotation_deg=round(rotation, 3),
        translation_mm=np.round(matrix[:3, 3], 3).tolist(),
        scales=np.round(_scales(matrix), 4).tolist(),
        coarse_voxel_mm=list(fixed.image.GetSpacing()),
    )
    failed, reason = _judge(dice, rotation, settings, details["dice_of"])
    seconds = time.perf_counter() - started
    log.info("registration %s: lung Dice %.3f (%.1f s)", kind, dice, seconds)
    return RegistrationResult(matrix, kind, dice, dice_before, failed, reason, seconds, details)


def _judge(
    dice: float, rotation: float, settings: RegistrationSettings, masks: str
) -> tuple[bool, str]:
    if dice < settings.min_lung_dice:
        return True, f"Dice of the {masks} {dice:.3f} < {settings.min_lung_dice:.2f}"
    if rotation > settings.max_rotation_deg:
        return True, f"rotation {rotation:.1f} deg > {settings.max_rotation_deg:.0f} deg"
    return False, f"Dice of the {masks} {dice:.3f} >= {settings.min_lung_dice:.2f}"


# --- one lesion: local refinement and mask propagation -------------------------------


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
    image = _to_sitk(np.asarray(box, dtype=np.float32), volume)
    image.SetOrigin(tuple(float(v) for v in volume.index_to_patient([lo])[0]))
    clamped: sitk.Image = sitk.Clamp(image, sitk.sitkFloat32, *_CLIP_HU)
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
    region = sitk.Cast(_to_sitk(mask.astype(np.uint8), fixed_volume), sitk.sitkUInt8)
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
    return LesionRegistration(_matrix_of(tx), float(tx.GetScale()), float(reg.GetMetricValue()))


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
    image = _to_sitk((np.asarray(mask) > 0).astype(np.float32), source)
    reference = sitk.Image(list(target.shape_ijk), sitk.sitkFloat32)
    reference.SetOrigin(tuple(float(v) for v in target.origin))
    reference.SetSpacing(tuple(float(v) for v in target.spacing))
    reference.SetDirection(tuple(float(v) for v in target.direction.flatten()))
    # Resample pulls: each target point is looked up at inverse(matrix) of it.
    inverse = _affine_of(np.asarray(np.linalg.inv(m), dtype=np.float64), np.zeros(3))
    warped = sitk.Resample(image, reference, inverse, sitk.sitkLinear, 0.0)
    return np.asarray(sitk.GetArrayFromImage(warped) >= 0.5, dtype=bool)
