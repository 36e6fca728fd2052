"""Radiomics of one case from its files: read the image and ROI, compute IBSI 1 features.

``radcycle radiomics`` and ``radcycle batch radiomics`` both call
:func:`case_features`, so a cohort's rows are the single command's numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from radcycle.imaging.radiomics import compute_features, get_config
from radcycle.io import read_image
from radcycle.io.masks import read_mask

__all__ = ["CaseFeatures", "case_features"]


@dataclass(frozen=True)
class CaseFeatures:
    """The features of one case, keyed by IBSI tag, and the seconds their computation took."""

    features: dict[str, float]
    seconds: float


def case_features(
    image: Path, mask: Path, config: str = "default", roi_name: str | None = None
) -> CaseFeatures:
    """IBSI 1 features of the ROI ``mask`` on ``image``.

    Args:
        image: NIfTI/NRRD/MetaImage file or DICOM series folder.
        mask: a mask on the image grid (non-zero inside), an RTSTRUCT or a SEG.
        config: a radiomics configuration name (``ibsi-a``...).
        roi_name: the ROI name in an RTSTRUCT, or the segment label in a SEG.

    Raises:
        InputError: unknown config (before any file is read), unreadable image or mask.
        GeometryError: a mask on another grid than the image.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from radcycle.domain import Geometry, Volume
        >>> from radcycle.io import write_image
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     img = Volume(np.arange(216.0).reshape(6, 6, 6), Geometry((0, 0, 0), (1, 1, 1)))
        ...     roi = Volume(np.ones((6, 6, 6), np.uint8), img.geometry)
        ...     image, mask = Path(tmp) / "i.nii.gz", Path(tmp) / "m.nii.gz"
        ...     _ = write_image(img, image), write_image(roi, mask)
        ...     result = case_features(image, mask)
        >>> round(result.features["morph_volume"], 1)
        207.7
    """
    get_config(config)  # an unknown name fails before any file is read
    volume = read_image(image)
    roi = read_mask(mask, volume, roi_name)
    start = time.perf_counter()
    features = compute_features(volume, roi, config)
    return CaseFeatures(features, time.perf_counter() - start)
