"""A scan of the patient, and a lesion proposed on it, measured with its provenance.

:class:`Scan` is one CT with its dates and UIDs (:func:`scan_from_volume` reads
them from what ``io`` filled); :class:`LesionSeed` is a lesion proposed on it (by
the detector, or by a person's click); :func:`measure_seed` segments and measures
it into a :class:`~radcycle.domain.findings.LesionMeasurement` whose image
reference and algorithm record say where and how it was measured.

Example:
    >>> rounded_point(np.array([1.23456, 2.0, -3.00049]))
    (1.235, 2.0, -3.0)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from radcycle.domain import AlgorithmRecord, ImageReference, Volume
from radcycle.domain.findings import LesionMeasurement
from radcycle.errors import InputError
from radcycle.imaging.masks import bbox
from radcycle.imaging.measurement import measure_mask
from radcycle.imaging.segmentation import segment_at_seed

__all__ = [
    "ALGORITHM_VERSION",
    "LesionMask",
    "LesionSeed",
    "Scan",
    "image_reference",
    "measure_seed",
    "rounded_point",
    "scan_from_volume",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# Names of the algorithms cited in the measurements' provenance.
OUTLINE_ALGORITHM = "radcycle.click-to-segment"
ALGORITHM_VERSION = "1"


@dataclass(frozen=True)
class LesionMask:
    """A lesion's mask, cropped to its bounding box on its scan's grid."""

    box: tuple[slice, slice, slice]
    crop: BoolArray

    @staticmethod
    def of(mask: BoolArray) -> LesionMask | None:
        box = bbox(mask, margin=(1, 1, 1))
        return None if box is None else LesionMask(box, np.asarray(mask[box], dtype=bool))

    def full(self, shape: tuple[int, ...]) -> BoolArray:
        out = np.zeros(shape, dtype=bool)
        out[self.box] = self.crop
        return out


@dataclass(frozen=True)
class LesionSeed:
    """A lesion proposed on a scan: a point in it and what kind of lesion it is.

    Args:
        point_mm: LPS mm, inside the lesion.
        organ: ``"lung"``, ``"lymph node"``, ``"liver"``, ...
        is_lymph_node: nodes are measured by short axis (RECIST 1.1 section 3.1).
        label: the proposer's name for it (kept in the provenance).
        measurements: the proposer's own measurements (a detector's
            :class:`~radcycle.domain.lesion.Detection` carries them); where None,
            the lesion is segmented at ``point_mm`` and measured here.
        method: how the proposer found and measured it (provenance).
        outline: the proposer's mask of the lesion, kept so that it can be
            carried to a later scan where a fresh outline fails.
        confidence: the detector's confidence where a detector proposed it; None
            for a lesion a person gave (a new lesion the detector alone found is
            unconfirmed until a radiologist confirms it).
    """

    point_mm: tuple[float, float, float]
    organ: str = "lung"
    is_lymph_node: bool = False
    label: str = ""
    measurements: LesionMeasurement | None = None
    method: str = ""
    outline: LesionMask | None = None
    confidence: float | None = None


@dataclass(frozen=True, eq=False)
class Scan:
    """One CT of the patient with what the pipeline needs to know about it."""

    volume: Volume
    exam_date: date
    study_instance_uid: str
    series_instance_uid: str
    patient_id: str = ""
    birth_date: date | None = None
    sop_instance_uids: tuple[str, ...] = ()


def _parse_da(value: Any, what: str) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as exc:
        raise InputError(f"{what} is not a DICOM date (YYYYMMDD)", value=text) from exc


def scan_from_volume(volume: Volume, exam_date: date | None = None) -> Scan:
    """A :class:`Scan` from a volume read by ``radcycle.io`` (dates from the headers).

    The typed :class:`~radcycle.domain.AcquisitionInfo` that ``io`` fills is read
    first; volumes built elsewhere fall back to the free-form metadata.

    Raises:
        InputError: no study date in the metadata and none given.
    """
    acq = volume.acquisition
    if acq is not None and acq.image is not None:
        found = exam_date or acq.study_date
        if found is None:
            raise InputError("the scan has no StudyDate; give the exam date", tag="(0008,0020)")
        return Scan(
            volume=volume,
            exam_date=found,
            study_instance_uid=acq.image.study_instance_uid,
            series_instance_uid=acq.image.series_instance_uid,
            patient_id=acq.patient_id or "",
            birth_date=acq.birth_date,
            sop_instance_uids=acq.image.sop_instance_uids,
        )
    meta: Any = volume.metadata
    study = meta.get("study") or {}
    found = exam_date or _parse_da(study.get("study_date"), "(0008,0020) StudyDate")
    if found is None:
        raise InputError("the scan has no StudyDate; give the exam date", tag="(0008,0020)")
    patient = meta.get("patient") or {}
    birth = _parse_da(patient.get("birth_date"), "(0010,0030) PatientBirthDate")
    return Scan(
        volume=volume,
        exam_date=found,
        study_instance_uid=str(meta.get("study_instance_uid", "")),
        series_instance_uid=str(meta.get("series_instance_uid", "")),
        patient_id=str(patient.get("patient_id", "")),
        birth_date=birth,
        sop_instance_uids=tuple(meta.get("sop_instance_uids") or ()),
    )


def rounded_point(v: FloatArray) -> tuple[float, float, float]:
    """A point as a tuple of floats rounded to 1 micrometre (for provenance and JSON)."""
    return (round(float(v[0]), 3), round(float(v[1]), 3), round(float(v[2]), 3))


def measure_seed(
    scan: Scan, seed: LesionSeed, key: str
) -> tuple[LesionMeasurement, LesionMask | None, str]:
    """Segment (unless the seed carries measurements) and measure one lesion.

    Raises:
        InputError: the point is outside the image or the body.
        AnalysisError: nothing to segment there.
    """
    lung = seed.organ.lower() == "lung" and not seed.is_lymph_node
    where = rounded_point(np.asarray(seed.point_mm))
    mask, quality = None, "given"
    params = {"at_mm": ",".join(f"{v:g}" for v in where), "label": seed.label}
    if seed.measurements is not None:
        m, mask = seed.measurements, seed.outline
        algorithm = AlgorithmRecord(seed.method or "given", ALGORITHM_VERSION, params)
    else:
        # a lymph node or a liver lesion is soft tissue even where it touches the
        # lung (a hilar node, a lesion under the dome): only lung lesions are routed
        strategy = None if seed.organ.lower() == "lung" else "soft-tissue"
        seg = segment_at_seed(scan.volume, seed.point_mm, strategy=strategy)
        full = np.asarray(seg.mask.array, dtype=bool)
        m = measure_mask(scan.volume, full, lung=lung)
        mask, quality = LesionMask.of(full), seg.quality
        params.update(method=seg.method, quality=seg.quality)
        algorithm = AlgorithmRecord(OUTLINE_ALGORITHM, ALGORITHM_VERSION, params)
    nodule_type = m.nodule_type if lung else None
    solid = m.solid_component_mm if nodule_type == "part-solid" else None
    sop = _sop_at(scan, m.axial_slice_mm) if m.axial_slice_mm is not None else ""
    obs = replace(
        m,
        organ=seed.organ,
        is_lymph_node=seed.is_lymph_node,
        nodule_type=nodule_type,
        solid_component_mm=solid,
        key=key,
        image=image_reference(scan, sop),
        algorithm=algorithm,
    )
    return obs, mask, quality


def image_reference(scan: Scan, sop_instance_uid: str = "") -> ImageReference | None:
    """The scan's images as a structured reference (one instance where given).

    None where the scan's UIDs are not valid DICOM UIDs (e.g. a NIfTI input).
    """
    acq = scan.volume.acquisition
    base = acq.image if acq is not None else None
    try:
        return ImageReference(
            scan.study_instance_uid,
            scan.series_instance_uid,
            (sop_instance_uid,) if sop_instance_uid else (),
            base.sop_class_uid if base is not None else None,
            base.frame_of_reference_uid if base is not None else None,
            acq.modality if acq is not None else None,
        )
    except InputError:
        return None


def _sop_at(scan: Scan, point_mm: tuple[float, float, float]) -> str:
    """SOPInstanceUID of the slice holding ``point_mm`` (empty where unknown)."""
    uids = scan.sop_instance_uids
    if len(uids) != scan.volume.array.shape[0]:
        return ""
    k = round(float(scan.volume.patient_to_index([point_mm])[0][2]))
    return uids[k] if 0 <= k < len(uids) else ""
