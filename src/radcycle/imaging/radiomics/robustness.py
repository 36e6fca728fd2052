"""How much each radiomics feature moves when the image changes a little.

The image perturbation method of Zwanenburg et al. (Sci Rep 2019, 9:614): the
image and its ROI are perturbed the ways a repeat scan or another reader would
change them, features are computed on every perturbed copy, and each feature's
intraclass correlation ICC(1,1) across the perturbations (subjects: the cases,
"raters": the perturbations) says whether the feature tells cases apart more
than the perturbations move it. ICC >= 0.90 is "robust" there.

:data:`PERTURBATIONS` lists the perturbations as data: the original, Gaussian
noise at the image's own noise level, sub-voxel translations, small in-plane
rotations, and the ROI grown or shrunk by one voxel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.errors import InputError
from radcycle.imaging.radiomics.configs import RadiomicsConfig
from radcycle.imaging.radiomics.features import compute_features

__all__ = ["PERTURBATIONS", "Perturbation", "feature_iccs", "icc_1_1", "perturbed_features"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: ICC(1,1) at or above this: robust (Zwanenburg 2019, after Koo and Li 2016).
ROBUST_ICC = 0.90


@dataclass(frozen=True)
class Perturbation:
    """One way to perturb an image and its ROI, named as in the report."""

    name: str
    apply: Callable[[FloatArray, BoolArray, int], tuple[FloatArray, BoolArray]]


def noise_sd(image: FloatArray) -> float:
    """The image's noise: robust SD of its difference from a 3x3x3 mean (scaled).

    For white noise the difference of a voxel from its 27-voxel mean has SD
    ``sigma * sqrt(26 / 27)``; the median absolute deviation makes edges count
    little.
    """
    residual = image - ndi.uniform_filter(image, size=3)
    mad = float(np.median(np.abs(residual - np.median(residual))))
    return float(1.4826 * mad / np.sqrt(26.0 / 27.0))


def _noise(image: FloatArray, roi: BoolArray, seed: int) -> tuple[FloatArray, BoolArray]:
    rng = np.random.default_rng(seed)
    return image + rng.normal(0.0, noise_sd(image), image.shape), roi


def _shift(fraction: float) -> Callable[[FloatArray, BoolArray, int], tuple[FloatArray, BoolArray]]:
    def apply(image: FloatArray, roi: BoolArray, seed: int) -> tuple[FloatArray, BoolArray]:
        offset = (0.0, fraction, fraction)
        moved = ndi.shift(image, offset, order=1, mode="nearest")
        mask = ndi.shift(roi.astype(np.float64), offset, order=1) >= 0.5
        return moved, mask

    return apply


def _rotate(degrees: float) -> Callable[[FloatArray, BoolArray, int], tuple[FloatArray, BoolArray]]:
    def apply(image: FloatArray, roi: BoolArray, seed: int) -> tuple[FloatArray, BoolArray]:
        turned = ndi.rotate(image, degrees, axes=(1, 2), reshape=False, order=1, mode="nearest")
        mask = ndi.rotate(roi.astype(np.float64), degrees, axes=(1, 2), reshape=False, order=1)
        return turned, mask >= 0.5

    return apply


def _grow(image: FloatArray, roi: BoolArray, seed: int) -> tuple[FloatArray, BoolArray]:
    return image, ndi.binary_dilation(roi)


def _shrink(image: FloatArray, roi: BoolArray, seed: int) -> tuple[FloatArray, BoolArray]:
    eroded = ndi.binary_erosion(roi)
    return image, eroded if eroded.any() else roi


#: The perturbations, in the order of the report's columns.
PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation("original", lambda image, roi, seed: (image, roi)),
    Perturbation("noise", _noise),
    Perturbation("translate 0.25 voxel", _shift(0.25)),
    Perturbation("translate 0.5 voxel", _shift(0.5)),
    Perturbation("rotate -4 deg", _rotate(-4.0)),
    Perturbation("rotate +4 deg", _rotate(4.0)),
    Perturbation("ROI grown 1 voxel", _grow),
    Perturbation("ROI shrunk 1 voxel", _shrink),
)


def perturbed_features(
    volume: Volume,
    mask: Volume,
    config: str | RadiomicsConfig = "default",
    perturbations: Sequence[Perturbation] = PERTURBATIONS,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Each feature's value on every perturbation (in ``perturbations`` order).

    Raises:
        InputError: the ROI is empty.
    """
    image = np.asarray(volume.array, dtype=np.float64)
    roi = np.asarray(mask.array) != 0
    if not roi.any():
        raise InputError("the ROI mask is empty (no voxel inside)")
    values: dict[str, list[float]] = {}
    for p in perturbations:
        moved, region = p.apply(image, roi, seed)
        features = compute_features(
            volume.with_array(moved), volume.with_array(region.astype(np.uint8)), config
        )
        for tag, value in features.items():
            values.setdefault(tag, []).append(float(value))
    return values


def icc_1_1(table: FloatArray) -> float:
    """ICC(1,1), one-way random effects, of a ``subjects x raters`` table.

    Example:
        >>> round(icc_1_1(np.array([[1.0, 1.1], [5.0, 5.2], [9.0, 8.9]])), 3)
        0.999
        >>> icc_1_1(np.array([[1.0, 1.0], [1.0, 1.0]]))
        nan
    """
    n, k = table.shape
    if n < 2 or k < 2 or not np.isfinite(table).all():
        return float("nan")
    means = table.mean(axis=1)
    msb = k * float(((means - table.mean()) ** 2).sum()) / (n - 1)
    msw = float(((table - means[:, None]) ** 2).sum()) / (n * (k - 1))
    if msb + (k - 1) * msw == 0:
        return float("nan")
    return float((msb - msw) / (msb + (k - 1) * msw))


def feature_iccs(cases: Sequence[dict[str, list[float]]]) -> dict[str, float]:
    """ICC(1,1) per feature over cases (subjects) and perturbations (raters).

    Args:
        cases: :func:`perturbed_features` of each case (two or more).

    Raises:
        InputError: fewer than two cases (an ICC needs subjects to tell apart).
    """
    if len(cases) < 2:
        raise InputError("an ICC needs two cases or more", value=len(cases))
    tags = [t for t in cases[0] if all(t in c for c in cases)]
    return {t: icc_1_1(np.array([c[t] for c in cases], dtype=np.float64)) for t in tags}
