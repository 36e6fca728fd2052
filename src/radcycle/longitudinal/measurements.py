"""A tracked lesion's observations as :class:`~radcycle.domain.Measurement` records.

This is the one place where what was measured on a scan becomes the records every
later layer (guideline facts, findings.json, SR, FHIR) passes on unchanged: one
record per quantity, with the lesion's TrackingIdentifier and
TrackingUniqueIdentifier, the study date, the images and the algorithm.
"""

from __future__ import annotations

from datetime import date

from radcycle.domain.measurement import MEASURED, Measurement, MeasurementName
from radcycle.domain.provenance import AlgorithmRecord
from radcycle.longitudinal.tracking import PointStatus, Track, TrackPoint

__all__ = ["TRACKING_ALGORITHM", "point_measurements"]

#: Cited where a value comes from tracking alone (a lesion gone or not evaluated).
TRACKING_ALGORITHM = AlgorithmRecord("radcycle.track", "1")

_STATUS = {
    PointStatus.DISAPPEARED: "disappeared",
    PointStatus.MERGED: "disappeared",
    PointStatus.MISSING: "not evaluated",
    PointStatus.NOT_EVALUATED: "not evaluated",
}


def point_measurements(track: Track, t: int, exam_date: date) -> tuple[Measurement, ...]:
    """The Measurements of ``track`` at scan ``t`` (empty before it was first seen).

    A lesion that disappeared or was not evaluated has valueless long-axis and
    short-axis records whose status says why.

    Example:
        >>> from radcycle.longitudinal.tracking import Observation, ScanLesions, track_lesions
        >>> scans = [ScanLesions("1.1", (Observation((0.0, 0.0, 0.0), 20.0, 15.0),))]
        >>> (track,) = track_lesions(scans, patient_key="P")
        >>> [(m.name.value, m.value) for m in point_measurements(track, 0, date(2025, 1, 1))]
        [('long_axis', 20.0), ('short_axis', 15.0)]
    """
    point: TrackPoint | None = track.points[t]
    if point is None:
        return ()
    when = exam_date.isoformat()
    obs = point.observation
    if obs is None or point.status in _STATUS:
        status = _STATUS.get(point.status, "not evaluated")
        return tuple(
            _record(track, name, None, when, None, status)
            for name in (MeasurementName.LONG_AXIS, MeasurementName.SHORT_AXIS)
        )
    values = (
        (MeasurementName.LONG_AXIS, obs.long_axis_mm),
        (MeasurementName.SHORT_AXIS, obs.short_axis_mm),
        (MeasurementName.VOLUME, obs.volume_mm3),
        (MeasurementName.SOLID_COMPONENT, obs.solid_component_mm),
        (MeasurementName.MEAN_ATTENUATION, obs.mean_hu),
    )
    return tuple(
        _record(track, name, value, when, obs, MEASURED)
        for name, value in values
        if value is not None
    )


def _record(
    track: Track,
    name: MeasurementName,
    value: float | None,
    when: str,
    obs: object,
    status: str,
) -> Measurement:
    image = getattr(obs, "image", None)
    algorithm = getattr(obs, "algorithm", None) or TRACKING_ALGORITHM
    return Measurement(
        name=name,
        value=value,
        unit=name.unit,
        tracking_identifier=track.tracking_identifier,
        tracking_uid=track.tracking_uid,
        time_point=when,
        image=image,
        algorithm=algorithm,
        status=status,
    )
