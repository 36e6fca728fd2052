"""A tracked lesion at one time point: the one lesion record, with its identity.

This is the one place where what was measured on a scan gets the lesion's
TrackingIdentifier, TrackingUniqueIdentifier and study date; every other field
of the :class:`~radcycle.domain.findings.LesionMeasurement` (sizes, image
reference, algorithm) is passed on unchanged. Its TID 1500 items
(:meth:`~radcycle.domain.findings.LesionMeasurement.quantities`) are what guideline
facts, findings.json, SR and FHIR read.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from radcycle.domain.findings import LesionMeasurement, LesionStatus
from radcycle.domain.measurement import Measurement
from radcycle.domain.provenance import AlgorithmRecord
from radcycle.longitudinal.tracking import PointStatus, Track

__all__ = ["POINT_STATUS", "TRACKING_ALGORITHM", "point_measurements", "point_record"]

#: Cited where a value comes from tracking alone (a lesion gone or not evaluated).
TRACKING_ALGORITHM = AlgorithmRecord("radcycle.track", "1")

#: What each tracking outcome means for the lesion (RECIST 1.1 sections 4.3.2, 4.4.2).
POINT_STATUS = {
    PointStatus.BASELINE: LesionStatus.MEASURED,
    PointStatus.MATCHED: LesionStatus.MEASURED,
    PointStatus.NEW: LesionStatus.MEASURED,
    PointStatus.SPLIT: LesionStatus.MEASURED,
    PointStatus.MERGED: LesionStatus.DISAPPEARED,
    PointStatus.DISAPPEARED: LesionStatus.DISAPPEARED,
    PointStatus.MISSING: LesionStatus.NOT_EVALUATED,
    PointStatus.NOT_EVALUATED: LesionStatus.NOT_EVALUATED,
}


def point_record(track: Track, t: int, exam_date: date) -> LesionMeasurement | None:
    """``track`` at scan ``t`` (None before it was first seen).

    A lesion seen there is its measured record with the track's identity; one
    gone or not evaluated is a valueless record whose status and note say why,
    keeping the lesion's organ and kind from where it was first seen.

    Example:
        >>> from radcycle.longitudinal.tracking import ScanLesions, observed, track_lesions
        >>> scans = [ScanLesions("1.1", (observed((0.0, 0.0, 0.0), 20.0, 15.0),))]
        >>> (track,) = track_lesions(scans, patient_key="P")
        >>> rec = point_record(track, 0, date(2025, 1, 1))
        >>> (rec.lesion_id, rec.time_point, rec.long_axis_mm)
        ('lesion 1', '2025-01-01', 20.0)
    """
    point = track.points[t]
    if point is None:
        return None
    status = POINT_STATUS[point.status]
    tid, uid, when = track.tracking_identifier, track.tracking_uid, exam_date.isoformat()
    obs = point.observation
    if obs is not None and status is LesionStatus.MEASURED:
        return replace(obs, lesion_id=tid, tracking_uid=uid, time_point=when, status=status)
    first = track.points[track.first_timepoint]
    ref = first.observation if first is not None else None
    return LesionMeasurement(
        lesion_id=tid,
        tracking_uid=uid,
        time_point=when,
        status=status,
        organ=ref.organ if ref else "",
        is_lymph_node=bool(ref and ref.is_lymph_node),
        nodule_type=ref.nodule_type if ref else None,
        algorithm=TRACKING_ALGORITHM,
        note=point.note or point.status.value,
    )


def point_measurements(track: Track, t: int, exam_date: date) -> tuple[Measurement, ...]:
    """The TID 1500 items of ``track`` at scan ``t`` (empty before it was first seen).

    A lesion that disappeared or was not evaluated has valueless long-axis and
    short-axis records whose status says why.

    Example:
        >>> from radcycle.longitudinal.tracking import ScanLesions, observed, track_lesions
        >>> scans = [ScanLesions("1.1", (observed((0.0, 0.0, 0.0), 20.0, 15.0),))]
        >>> (track,) = track_lesions(scans, patient_key="P")
        >>> [(m.name.value, m.value) for m in point_measurements(track, 0, date(2025, 1, 1))]
        [('long_axis', 20.0), ('short_axis', 15.0)]
    """
    record = point_record(track, t, exam_date)
    return () if record is None else record.quantities(TRACKING_ALGORITHM)
