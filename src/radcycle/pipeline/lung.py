"""Full lung analysis of one chest CT: lungs, nodules, measurements, radiomics.

:func:`analyse_lungs` runs, in order, and times each step:

1. lungs (:func:`radcycle.imaging.lungs.segment_lungs`): body, airways, right and
   left lungs, envelopes and the location model;
2. detection (:func:`radcycle.imaging.detection.detect_nodules`): candidates,
   false-positive tests, a mask and measurements per nodule (RECIST axes, 3D
   diameter, volume, density, type, Lung-RADS mean diameter, location);
3. radiomics per nodule (:func:`radcycle.imaging.radiomics.radiomics_for_lesion`,
   IBSI feature tags), where asked for.

The result is plain data (:class:`LungAnalysis`), JSON-ready with
:meth:`LungAnalysis.to_dict`: every position in LPS millimetres, never a voxel
index, and each nodule with the series, method and reason that produced it.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radcycle.domain import Volume
from radcycle.domain.lesion import Detection
from radcycle.errors import RadcycleError
from radcycle.imaging.detection import DetectionSettings, detect_nodules
from radcycle.imaging.lungs import check_chest_ct, segment_lungs
from radcycle.imaging.qc import assess
from radcycle.imaging.radiomics import radiomics_for_lesion
from radcycle.io import read_image

__all__ = ["LungAnalysis", "analyse_lung_image", "analyse_lungs"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LungAnalysis:
    """What the lung analysis found on one CT.

    Attributes:
        nodules: detections, most confident first.
        lung_volumes_ml: right, left and airway volumes (mL).
        timings_s: seconds per step (``lungs``, ``detection``, ``radiomics``).
        series_uid: SeriesInstanceUID of the CT, where known.
        series_problems: what the reader found wrong with the series (missing or
            interpolated slices, tilt, ...), carried so no result hides them.
        interpolated_slices: indices of slices the reader filled by interpolation
            (no nodule seen there was seen by the scanner).
        quality: the image quality report (:func:`radcycle.imaging.qc.assess`).
    """

    nodules: tuple[Detection, ...]
    lung_volumes_ml: dict[str, float]
    timings_s: dict[str, float] = field(default_factory=dict)
    series_uid: str | None = None
    series_problems: tuple[dict[str, str], ...] = ()
    interpolated_slices: tuple[int, ...] = ()
    quality: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: positions in LPS mm, radiomics values NaN-free (``None``)."""
        nodules = []
        for det in self.nodules:
            item = det.to_dict()
            item["radiomics"] = {
                k: (v if isinstance(v, float) and math.isfinite(v) else None)
                for k, v in det.radiomics.items()
            }
            nodules.append(item)
        return {
            "series_instance_uid": self.series_uid,
            "coordinate_system": "DICOM LPS, mm",
            "lung_volumes_ml": self.lung_volumes_ml,
            "series_problems": [dict(p) for p in self.series_problems],
            "interpolated_slices": list(self.interpolated_slices),
            "quality": self.quality,
            "nodules": nodules,
            "timings_s": self.timings_s,
        }


def _radiomics(volume: Volume, mask: npt.NDArray[np.bool_]) -> dict[str, float]:
    try:
        return radiomics_for_lesion(volume, volume.with_array(mask.astype(np.uint8)))
    except RadcycleError as exc:
        log.warning("radiomics skipped for a nodule: %s", exc)
        return {}


def analyse_lungs(
    volume: Volume, *, radiomics: bool = True, settings: DetectionSettings | None = None
) -> LungAnalysis:
    """Lungs, nodule detection, measurements and (optionally) radiomics of a chest CT.

    Args:
        volume: chest CT in HU (``metadata["modality"]``, if present, must be CT).
        radiomics: compute IBSI radiomics for every nodule.
        settings: detector thresholds.

    Raises:
        AnalysisError: not a CT in HU, a 2D image, or no lungs found.
    """
    check_chest_ct(volume)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    lungs = segment_lungs(volume)
    timings["lungs"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    found = detect_nodules(volume, lungs, settings)
    timings["detection"] = round(time.perf_counter() - start, 3)
    nodules = []
    start = time.perf_counter()
    for det, mask in found:
        features = _radiomics(volume, mask) if radiomics else {}
        nodules.append(replace(det, radiomics=features))
    timings["radiomics"] = round(time.perf_counter() - start, 3)
    meta: Any = volume.metadata
    uid = meta.get("series_instance_uid") or meta.get("SeriesInstanceUID")
    problems = tuple(dict(p) for p in meta.get("problems") or ())
    interpolated = tuple(int(k) for k in meta.get("interpolated_slices") or ())
    quality = assess(volume).to_dict()
    return LungAnalysis(
        tuple(nodules), lungs.lung_volumes_ml(), timings, uid, problems, interpolated, quality
    )


def analyse_lung_image(path: str | Path, *, radiomics: bool = True) -> LungAnalysis:
    """Read a chest CT (DICOM series folder, NIfTI or NRRD) and analyse its lungs."""
    volume = read_image(path)
    return analyse_lungs(volume, radiomics=radiomics)
