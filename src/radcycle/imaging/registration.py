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

Many real scans do not show both whole lungs (a limited field of view, a
chest/abdomen CT with the lungs cut off, a neck CT). Where either scan has no
lungs enclosed by its body outline, or the lung-driven registration fails, the
*intensity path* runs instead, with no lung mask anywhere:

1. a coarse search over translations (within ``search_mm`` on every axis) by
   masked normalised cross-correlation of the two coarse images, computed with
   FFTs over the common field of view (Padfield, IEEE TIP 2012), so a follow-up
   that shows only part of the baseline is still placed;
2. rigid then affine as above, the metric sampled over the baseline's whole
   field of view;
3. judged by measures that need no lungs: the normalised cross-correlation of
   the intensities where both scans have data (``min_ncc``), the Dice of the
   bone masks there (``min_bone_dice``), and the fraction of the smaller field of
   view that the two share (``min_overlap``).

:attr:`RegistrationResult.path` says which path was used (``lungs`` or
``intensity``) and ``details`` holds both paths' quality measures.

:mod:`radcycle.imaging.lesion_registration` then refines the result around each
lesion and carries its mask; :mod:`radcycle.imaging.registration_images` holds the
coarse images and the matrix conversions both use.

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

from radcycle.domain import Volume
from radcycle.errors import AnalysisError
from radcycle.imaging.registration_images import (
    Coarse,
    affine_of,
    apply_matrix,
    coarse,
    lung_dice,
    matrix_of,
    rotation_deg,
    scales,
)

__all__ = [
    "REGISTRATION_PATHS",
    "RegistrationResult",
    "RegistrationSettings",
    "apply_matrix",
    "overlap_quality",
    "register",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Cortical and trabecular bone on a coarse (block-mean) CT grid.
_BONE_HU = 180.0
REGISTRATION_PATHS = ("auto", "lungs", "intensity")


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
        path: ``auto`` (lungs where both scans show them, intensity otherwise or
            where the lung path fails), ``lungs`` or ``intensity``.
        search_mm: the coarse translation search of the intensity path spans
            +- this on every axis.
        min_ncc: intensity path: below this normalised cross-correlation in the
            overlap the registration is flagged failed.
        min_bone_dice: intensity path: below this Dice of the bone masks in the
            overlap it is flagged failed.
        min_overlap: intensity path: below this shared fraction of the smaller
            field of view it is flagged failed.
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
    path: str = "auto"
    search_mm: float = 40.0
    min_ncc: float = 0.5
    min_bone_dice: float = 0.6
    min_overlap: float = 0.2

    def __post_init__(self) -> None:
        if self.path not in REGISTRATION_PATHS:
            raise AnalysisError(
                f"registration path must be one of {REGISTRATION_PATHS}", value=self.path
            )


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
        path: ``lungs`` (lung masks drove and judged it), ``intensity`` (intensity
            and bone, no lungs) or ``identity`` (nothing ran).
    """

    matrix: FloatArray
    kind: str
    lung_dice: float
    lung_dice_before: float
    failed: bool
    reason: str
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)
    path: str = "lungs"

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
            "path": self.path,
            "lung_dice": round(self.lung_dice, 4),
            "lung_dice_before": round(self.lung_dice_before, 4),
            "failed": self.failed,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "details": self.details,
        }


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


def _initial(fixed: Coarse, moving: Coarse) -> sitk.Transform:
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


def _run(
    reg: Any,
    fixed: Coarse,
    moving: Coarse,
    start: sitk.Transform,
    mask: sitk.Image | None = None,
) -> sitk.Transform:
    reg.SetInitialTransform(start, inPlace=False)
    reg.SetMetricFixedMask(fixed.body if mask is None else mask)
    try:
        result: sitk.Transform = reg.Execute(fixed.image, moving.image)
    except RuntimeError as exc:
        raise AnalysisError(f"registration did not run: {exc}") from exc
    return result


def _centre(image: sitk.Image) -> FloatArray:
    return np.array(
        image.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2.0 for s in image.GetSize()])
    )


@dataclass(frozen=True)
class _Outcome:
    """One path's result before it is wrapped into a :class:`RegistrationResult`."""

    matrix: FloatArray
    kind: str
    dice: float
    failed: bool
    reason: str
    details: dict[str, Any]


def register(
    baseline: Volume, followup: Volume, settings: RegistrationSettings | None = None
) -> RegistrationResult:
    """Register ``followup`` to ``baseline``: rigid, then affine (CT, HU).

    Args:
        baseline: the reference scan (fixed image).
        followup: the later scan (moving image).
        settings: tuning; the defaults suit chest CT.

    Returns:
        The baseline -> follow-up matrix (LPS mm), the path used (``lungs`` or
        ``intensity``), its quality measures and whether it failed the checks.

    Raises:
        AnalysisError: SimpleITK could not run (e.g. the images do not overlap).
    """
    settings = settings or RegistrationSettings()
    started = time.perf_counter()
    fixed = coarse(baseline, settings.voxel_mm)
    moving = coarse(followup, settings.voxel_mm)
    dice_before = lung_dice(fixed, moving, sitk.Transform(3, sitk.sitkIdentity))
    lungs_seen = fixed.lungs_found and moving.lungs_found
    path = settings.path
    if path == "auto":
        path = "lungs" if lungs_seen else "intensity"
    outcome = None
    lung_note: dict[str, Any] = {}
    if path == "lungs":
        outcome = _lung_path(fixed, moving, settings)
        if outcome.failed and settings.path == "auto":
            lung_note = {
                "lung_path": {
                    "reason": outcome.reason,
                    "lung_dice": round(outcome.dice, 4),
                }
            }
            path, outcome = "intensity", None
    if outcome is None:
        outcome = _intensity_path(fixed, moving, settings)
        if not lungs_seen:
            outcome.details["why_intensity"] = "no lungs enclosed by the body outline on " + (
                "either scan" if not (fixed.lungs_found or moving.lungs_found) else "one scan"
            )
        elif lung_note:
            outcome.details["why_intensity"] = "the lung-driven registration failed"
        outcome.details.update(lung_note)
    seconds = time.perf_counter() - started
    log.info("registration %s (%s path): %s (%.1f s)", outcome.kind, path, outcome.reason, seconds)
    return RegistrationResult(
        outcome.matrix,
        outcome.kind,
        outcome.dice,
        dice_before,
        outcome.failed,
        outcome.reason,
        seconds,
        outcome.details,
        path,
    )


def _lung_path(fixed: Coarse, moving: Coarse, settings: RegistrationSettings) -> _Outcome:
    """Lung-mask initialisation, MI on the body, judged by the lung-mask Dice."""
    initial = _initial(fixed, moving)
    rigid_tx = _run(_method(settings, settings.iterations[0], True), fixed, moving, initial)
    rigid = matrix_of(rigid_tx)
    rigid_dice = lung_dice(fixed, moving, rigid_tx)
    matrix, kind, dice = rigid, "rigid", rigid_dice
    details: dict[str, Any] = {
        "rigid_lung_dice": round(rigid_dice, 4),
        "dice_of": "lung masks" if fixed.lungs_found and moving.lungs_found else "air masks",
    }
    if settings.affine:
        reg = _method(settings, settings.iterations[1], False)
        affine_tx = _run(reg, fixed, moving, affine_of(rigid, _centre(fixed.image)))
        affine_dice = lung_dice(fixed, moving, affine_tx)
        details["affine_lung_dice"] = round(affine_dice, 4)
        affine = matrix_of(affine_tx)
        plausible = np.all(np.abs(scales(affine) - 1.0) <= settings.max_scale_change)
        if affine_dice >= rigid_dice - 0.005 and plausible:
            matrix, kind, dice = affine, "affine", affine_dice
    rotation = rotation_deg(matrix)
    _describe(details, matrix, fixed)
    failed, reason = _judge(dice, rotation, settings, details["dice_of"])
    return _Outcome(matrix, kind, dice, failed, reason, details)


def _describe(details: dict[str, Any], matrix: FloatArray, fixed: Coarse) -> None:
    details.update(
        rotation_deg=round(rotation_deg(matrix), 3),
        translation_mm=np.round(matrix[:3, 3], 3).tolist(),
        scales=np.round(scales(matrix), 4).tolist(),
        coarse_voxel_mm=list(fixed.image.GetSpacing()),
    )


def _judge(
    dice: float, rotation: float, settings: RegistrationSettings, masks: str
) -> tuple[bool, str]:
    if dice < settings.min_lung_dice:
        return True, f"Dice of the {masks} {dice:.3f} < {settings.min_lung_dice:.2f}"
    if rotation > settings.max_rotation_deg:
        return True, f"rotation {rotation:.1f} deg > {settings.max_rotation_deg:.0f} deg"
    return False, f"Dice of the {masks} {dice:.3f} >= {settings.min_lung_dice:.2f}"


# --- the intensity path: no lungs needed -----------------------------------------------


def _ones_like(image: sitk.Image) -> sitk.Image:
    ones: sitk.Image = sitk.Image(image.GetSize(), sitk.sitkUInt8) + 1
    ones.CopyInformation(image)
    return ones


def _on_fixed_grid(
    fixed: Coarse, moving: Coarse, transform: sitk.Transform
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Both coarse images on the fixed grid, and where the moving one has data."""
    mapped = sitk.Resample(moving.image, fixed.image, transform, sitk.sitkLinear, 0.0)
    covered = sitk.Resample(
        _ones_like(moving.image), fixed.image, transform, sitk.sitkNearestNeighbor, 0
    )
    a = np.asarray(sitk.GetArrayViewFromImage(fixed.image), dtype=np.float64)
    b = np.asarray(sitk.GetArrayFromImage(mapped), dtype=np.float64)
    return a, b, np.asarray(sitk.GetArrayViewFromImage(covered) > 0)


def overlap_quality(
    fixed_values: npt.ArrayLike, moving_values: npt.ArrayLike, overlap: npt.ArrayLike
) -> dict[str, float]:
    """Registration quality that needs no lungs, over the voxels both scans cover.

    Args:
        fixed_values: the baseline's HU on a grid.
        moving_values: the follow-up's HU mapped onto the same grid.
        overlap: where the follow-up has data (both have data there).

    Returns:
        ``ncc`` (normalised cross-correlation of the HU), ``bone_dice`` (Dice of
        the voxels above the bone threshold), and ``overlap_voxels``.

    Example:
        >>> a = np.array([[[-800.0, 40.0, 500.0, 600.0]]])
        >>> overlap_quality(a, a, np.ones(a.shape, bool))["ncc"]
        1.0
    """
    a = np.asarray(fixed_values, dtype=np.float64)
    b = np.asarray(moving_values, dtype=np.float64)
    inside = np.asarray(overlap, dtype=bool)
    n = int(inside.sum())
    if n < 2:
        return {"ncc": 0.0, "bone_dice": 0.0, "overlap_voxels": float(n)}
    x, y = a[inside], b[inside]
    x, y = x - x.mean(), y - y.mean()
    norm = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    ncc = float((x * y).sum()) / norm if norm > 0 else 0.0
    bone_a, bone_b = a[inside] > _BONE_HU, b[inside] > _BONE_HU
    total = int(bone_a.sum()) + int(bone_b.sum())
    dice = 2.0 * int((bone_a & bone_b).sum()) / total if total else 0.0
    return {"ncc": round(ncc, 4), "bone_dice": round(dice, 4), "overlap_voxels": float(n)}


def _translation_search(
    fixed: Coarse, moving: Coarse, settings: RegistrationSettings
) -> tuple[FloatArray, float]:
    """The best whole-voxel shift (LPS mm) by masked normalised cross-correlation.

    The follow-up is laid on the baseline's coarse grid as the scanners place it;
    every shift within ``search_mm`` is scored by the NCC over the voxels both
    cover (Padfield's masked formulation, six FFTs), shifts sharing less than
    ``min_overlap`` of the smaller field of view are left out.
    """
    a, b, covered = _on_fixed_grid(fixed, moving, sitk.Transform(3, sitk.sitkIdentity))
    spacing = np.asarray(fixed.image.GetSpacing(), dtype=np.float64)[::-1]  # k, j, i
    reach = np.minimum(np.ceil(settings.search_mm / spacing).astype(int), np.asarray(a.shape) - 1)
    # The moving image on the fixed grid is cut to the fixed grid; pad both so a
    # shift never wraps round.
    pad = [(int(r), int(r)) for r in reach]
    fa = np.pad(a, pad)
    fm = np.pad(np.ones(a.shape), pad)
    gb = np.pad(np.where(covered, b, 0.0), pad)
    gm = np.pad(covered.astype(np.float64), pad)
    shape = fa.shape
    fft, ifft = np.fft.rfftn, np.fft.irfftn

    def corr(x: FloatArray, y: FloatArray) -> FloatArray:
        # sum_x x(p) y(p + s) for every shift s (circular; the padding keeps it exact)
        out: FloatArray = ifft(np.conj(fft(x)) * fft(y), s=shape, axes=(0, 1, 2))
        return out

    f_m, g_m = fa * fm, gb * gm
    n = corr(fm, gm)
    sf, sg = corr(f_m, gm), corr(fm, g_m)
    sff, sgg = corr(f_m * fa, gm), corr(fm, g_m * gb)
    sfg = corr(f_m, g_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        num = sfg - sf * sg / n
        den = np.sqrt(np.maximum(sff - sf * sf / n, 0.0) * np.maximum(sgg - sg * sg / n, 0.0))
        ncc = np.where(den > 1e-6, num / den, -1.0)
    smaller = min(float(fm.sum()), float(gm.sum()))
    ncc[n < settings.min_overlap * smaller] = -1.0
    # Keep shifts within reach only: indices 0..r (positive) and -r..-1 (negative).
    allowed = np.ones(shape, dtype=bool)
    for axis, r in enumerate(reach):
        index = np.arange(shape[axis])
        ok = (index <= r) | (index >= shape[axis] - r)
        view: list[Any] = [np.newaxis] * 3
        view[axis] = slice(None)
        allowed = allowed & ok[tuple(view)]
    ncc = np.where(allowed, ncc, -1.0)
    best = np.unravel_index(int(np.argmax(ncc)), shape)
    shift_kji = np.array([s if s <= shape[i] // 2 else s - shape[i] for i, s in enumerate(best)])
    direction = np.asarray(fixed.image.GetDirection(), dtype=np.float64).reshape(3, 3)
    shift_mm: FloatArray = direction @ (shift_kji[::-1] * spacing[::-1])
    return shift_mm, float(ncc[best])


def _intensity_path(fixed: Coarse, moving: Coarse, settings: RegistrationSettings) -> _Outcome:
    """Translation search, rigid then affine on the whole field of view, judged by NCC and bone."""
    shift, search_ncc = _translation_search(fixed, moving, settings)
    start = sitk.Euler3DTransform()
    start.SetCenter(tuple(float(v) for v in _centre(fixed.image)))
    start.SetTranslation(tuple(float(v) for v in shift))
    everywhere = _ones_like(fixed.image)
    rigid_tx = _run(
        _method(settings, settings.iterations[0], True), fixed, moving, start, everywhere
    )
    rigid = matrix_of(rigid_tx)
    rigid_q = overlap_quality(*_on_fixed_grid(fixed, moving, rigid_tx))
    matrix, kind, quality = rigid, "rigid", rigid_q
    details: dict[str, Any] = {
        "search_shift_mm": np.round(shift, 2).tolist(),
        "search_ncc": round(search_ncc, 4),
        "rigid_ncc": rigid_q["ncc"],
        "rigid_bone_dice": rigid_q["bone_dice"],
    }
    if settings.affine:
        reg = _method(settings, settings.iterations[1], False)
        affine_tx = _run(reg, fixed, moving, affine_of(rigid, _centre(fixed.image)), everywhere)
        affine = matrix_of(affine_tx)
        affine_q = overlap_quality(*_on_fixed_grid(fixed, moving, affine_tx))
        details.update(affine_ncc=affine_q["ncc"], affine_bone_dice=affine_q["bone_dice"])
        plausible = np.all(np.abs(scales(affine) - 1.0) <= settings.max_scale_change)
        if affine_q["ncc"] >= rigid_q["ncc"] - 0.005 and plausible:
            matrix, kind, quality = affine, "affine", affine_q
    tx = affine_of(matrix, _centre(fixed.image))
    fixed_voxels = float(np.prod(fixed.image.GetSize()))
    moving_voxels = float(np.prod(moving.image.GetSize())) * float(
        np.prod(moving.image.GetSpacing()) / np.prod(fixed.image.GetSpacing())
    )
    overlap = quality["overlap_voxels"] / min(fixed_voxels, moving_voxels)
    details.update(
        ncc=quality["ncc"], bone_dice=quality["bone_dice"], overlap_fraction=round(overlap, 4)
    )
    dice = lung_dice(fixed, moving, tx)
    details["dice_of"] = (
        "air masks" if not (fixed.lungs_found and moving.lungs_found) else ("lung masks")
    )
    _describe(details, matrix, fixed)
    failed, reason = _judge_intensity(quality, overlap, details["rotation_deg"], settings)
    return _Outcome(matrix, kind, dice, failed, reason, details)


def _judge_intensity(
    quality: dict[str, float], overlap: float, rotation: float, settings: RegistrationSettings
) -> tuple[bool, str]:
    measures = (
        f"NCC {quality['ncc']:.3f}, bone Dice {quality['bone_dice']:.3f}, "
        f"overlap {100 * overlap:.0f} %"
    )
    problems = []
    if quality["ncc"] < settings.min_ncc:
        problems.append(f"NCC {quality['ncc']:.3f} < {settings.min_ncc:.2f}")
    if quality["bone_dice"] < settings.min_bone_dice:
        problems.append(f"bone Dice {quality['bone_dice']:.3f} < {settings.min_bone_dice:.2f}")
    if overlap < settings.min_overlap:
        problems.append(f"overlap {100 * overlap:.0f} % < {100 * settings.min_overlap:.0f} %")
    if rotation > settings.max_rotation_deg:
        problems.append(f"rotation {rotation:.1f} deg > {settings.max_rotation_deg:.0f} deg")
    if problems:
        return True, "intensity registration: " + "; ".join(problems)
    return False, f"intensity registration (no lungs needed): {measures}"
