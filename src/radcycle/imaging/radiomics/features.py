"""Radiomics orchestrator: one call from a Volume and a mask to IBSI 1 features."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from radcycle.domain import Volume
from radcycle.errors import GeometryError, InputError
from radcycle.imaging.inputs import require_finite
from radcycle.imaging.masks import grid_difference
from radcycle.imaging.radiomics.configs import RadiomicsConfig, get_config
from radcycle.imaging.radiomics.intensity import (
    histogram_features,
    ivh_features,
    local_intensity_features,
    statistics_features,
)
from radcycle.imaging.radiomics.morphology import morphology_features
from radcycle.imaging.radiomics.preprocess import Prepared, discretise, prepare
from radcycle.imaging.radiomics.texture import texture_features

__all__ = ["compute_features", "compute_prepared", "radiomics_for_lesion", "undefined_reasons"]

Family = Callable[[Prepared, RadiomicsConfig], dict[str, float]]


def _texture(p: Prepared, config: RadiomicsConfig) -> dict[str, float]:
    levels, ng = discretise(p.image[p.roi], config.texture, p.range_min)
    out = histogram_features(levels)
    grey = np.zeros(p.roi.shape, dtype=np.int64)
    grey[p.roi] = levels
    out.update(texture_features(grey, ng, config.dims, p.morph))
    return out


# Families in IBSI 1 chapter order; each maps prepared data to tagged values.
FAMILIES: dict[str, Family] = {
    "morphology": lambda p, c: morphology_features(p),
    "local_intensity": lambda p, c: local_intensity_features(p),
    "statistics": lambda p, c: statistics_features(p),
    "ivh": lambda p, c: ivh_features(p, c.ivh),
    "histogram_texture": _texture,
}


def compute_prepared(p: Prepared, config: RadiomicsConfig) -> dict[str, float]:
    """Every feature family on already prepared data.

    Features that are undefined for the ROI (a correlation of a constant ROI, axes
    of a one-voxel ROI) come out as NaN rather than raising or warning.
    """
    out: dict[str, float] = {}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for family in FAMILIES.values():
            out.update(family(p, config))
    return out


def compute_features(
    volume: Volume, mask: Volume, config: str | RadiomicsConfig = "default"
) -> dict[str, float]:
    """IBSI 1 radiomics features of the ROI ``mask`` in ``volume``.

    Args:
        volume: the image (CT in HU, PET in SUV, MR in its units).
        mask: the ROI on the same grid (non-zero inside).
        config: a name from :data:`~radcycle.imaging.radiomics.configs.CONFIGS` or a
            :class:`RadiomicsConfig`.

    Returns:
        Feature values keyed by the IBSI reference ``tag`` names (``morph_volume``...).

    Raises:
        GeometryError: the mask grid differs from the image grid.
        InputError: the mask is empty or the config unknown.
        AnalysisError: re-segmentation leaves nothing to measure.

    Example:
        >>> from radcycle.domain import Geometry
        >>> img = Volume(np.arange(216.0).reshape(6, 6, 6), Geometry((0, 0, 0), (1, 1, 1)))
        >>> roi = np.zeros((6, 6, 6)); roi[1:5, 1:5, 1:5] = 1
        >>> f = compute_features(img, img.with_array(roi), "ibsi-phantom")
        >>> round(f["morph_vol_approx"], 1)
        64.0
    """
    cfg = get_config(config)
    if mask.array.shape != volume.array.shape or not mask.geometry.is_close(volume.geometry):
        raise GeometryError(
            "the mask grid does not match the image grid", value=grid_difference(volume, mask)
        )
    if not np.any(mask.array):
        raise InputError("the ROI mask is empty (no voxel inside)")
    require_finite(np.asarray(volume.array)[np.asarray(mask.array) != 0], "radiomics ROI")
    prepared = prepare(volume.array, mask.array, volume.spacing[::-1], cfg)
    return compute_prepared(prepared, cfg)


def radiomics_for_lesion(volume: Volume, mask: Volume) -> dict[str, float]:
    """Radiomics of one lesion with the ``default`` configuration (lesion pipeline)."""
    return compute_features(volume, mask, "default")


def undefined_reasons(volume: Volume, mask: Volume, features: dict[str, float]) -> dict[str, str]:
    """Why each NaN feature is undefined (IBSI 1 leaves them undefined, not 0).

    Example:
        >>> from radcycle.domain import Geometry
        >>> img = Volume(np.full((4, 4, 4), 7.0), Geometry((0, 0, 0), (1, 1, 1)))
        >>> undefined_reasons(img, img.with_array(np.ones((4, 4, 4))), {"a": float("nan")})
        {'a': 'undefined for this ROI: its intensities are all equal (7)'}
    """
    inside = np.asarray(volume.array)[np.asarray(mask.array) != 0]
    if inside.size == 1:
        reason = "undefined for this ROI: it holds one voxel"
    elif inside.size and float(inside.min()) == float(inside.max()):
        reason = f"undefined for this ROI: its intensities are all equal ({float(inside[0]):g})"
    else:
        reason = "undefined for this ROI (a division by zero in its definition)"
    return {tag: reason for tag, value in features.items() if not np.isfinite(value)}
