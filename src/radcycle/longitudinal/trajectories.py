"""Per-lesion trajectories: sizes over time, change from baseline and from nadir.

The diameter followed is the one RECIST 1.1 sums (section 4.2): the long axis,
or the short axis for a lymph node. For each date: the long and short axes, the
volume, the percent change of the diameter (and of the volume) from the lesion's
first measurement, and from its nadir, the smallest diameter measured *before*
that date (RECIST 1.1 section 4.3.1 compares progression with the nadir, baseline
included). A lesion that disappeared counts 0 mm (section 4.3.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from radcycle.domain.measurement import Measurement
from radcycle.errors import InputError
from radcycle.longitudinal.measurements import point_measurements
from radcycle.longitudinal.tracking import PointStatus, Track

__all__ = ["Trajectory", "TrajectoryPoint", "build_trajectories", "percent"]

_GONE = (PointStatus.DISAPPEARED, PointStatus.MERGED)


def percent(value: float | None, reference: float | None) -> float | None:
    """Percent change from ``reference`` (None where either is unknown or it is 0).

    Example:
        >>> percent(7.0, 10.0)
        -30.0
    """
    if value is None or reference is None or reference <= 0:
        return None
    return round((value - reference) / reference * 100.0, 2)


@dataclass(frozen=True)
class TrajectoryPoint:
    """One lesion on one date.

    Args:
        date: the study date.
        timepoint: index of the scan (0 = baseline).
        status: tracking status at this scan.
        long_axis_mm, short_axis_mm, volume_mm3: the measurements (None if unknown).
        diameter_mm: RECIST diameter (short axis for nodes, else long axis).
        change_from_baseline_pct: diameter change from the first measurement.
        change_from_nadir_pct: diameter change from the smallest earlier diameter.
        nadir_mm: that smallest earlier diameter.
        volume_change_from_baseline_pct: volume change from the first measurement.
        centre_mm: LPS centre on this scan.
        centre_baseline_mm: the centre in baseline coordinates.
        series_instance_uid: the series measured (provenance).
        note: the tracking rule that decided.
    """

    date: date
    timepoint: int
    status: str
    long_axis_mm: float | None
    short_axis_mm: float | None
    volume_mm3: float | None
    diameter_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    nadir_mm: float | None
    volume_change_from_baseline_pct: float | None
    centre_mm: tuple[float, float, float] | None
    centre_baseline_mm: tuple[float, float, float] | None
    series_instance_uid: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["date"] = self.date.isoformat()
        return out


@dataclass(frozen=True)
class Trajectory:
    """A tracked lesion's measurements over time.

    ``measurements`` holds the same values as :class:`~radcycle.domain.Measurement`
    records with their structured provenance (images, algorithm), for facts and
    exports; ``points`` holds the derived changes for follow.json.
    """

    tracking_identifier: str
    tracking_uid: str
    organ: str
    is_lymph_node: bool
    nodule_type: str | None
    parent: str | None
    points: tuple[TrajectoryPoint, ...]
    measurements: tuple[Measurement, ...] = ()

    @property
    def best_change_pct(self) -> float | None:
        """Smallest diameter change from baseline at any follow-up (the waterfall bar)."""
        values = [p.change_from_baseline_pct for p in self.points[1:]]
        known = [v for v in values if v is not None]
        return min(known) if known else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracking_identifier": self.tracking_identifier,
            "tracking_uid": self.tracking_uid,
            "organ": self.organ,
            "is_lymph_node": self.is_lymph_node,
            "nodule_type": self.nodule_type,
            "split_from": self.parent,
            "best_change_from_baseline_pct": self.best_change_pct,
            "points": [p.to_dict() for p in self.points],
        }


def _sizes(
    status: PointStatus, track: Track, t: int
) -> tuple[float | None, float | None, float | None]:
    point = track.points[t]
    if status in _GONE:
        return 0.0, 0.0, 0.0
    if point is None or point.observation is None:
        return None, None, None
    obs = point.observation
    return obs.long_axis_mm, obs.short_axis_mm, obs.volume_mm3


def build_trajectories(
    tracks: Sequence[Track],
    dates: Sequence[date],
    series_uids: Sequence[str],
) -> list[Trajectory]:
    """Trajectories of tracked lesions.

    Args:
        tracks: from :func:`radcycle.longitudinal.tracking.track_lesions`.
        dates: study date of each scan (same order as the tracks' points).
        series_uids: SeriesInstanceUID of each scan (provenance).

    Example:
        >>> from radcycle.longitudinal.tracking import ScanLesions, observed, track_lesions
        >>> scans = [ScanLesions("1.1", (observed((0.0, 0.0, 0.0), 20.0, 15.0),)),
        ...          ScanLesions("1.2", (observed((0.0, 0.0, 0.0), 14.0, 10.0),))]
        >>> tr = build_trajectories(track_lesions(scans, patient_key="P"),
        ...                         [date(2025, 1, 1), date(2025, 4, 1)], ["1.3", "1.4"])
        >>> tr[0].points[1].change_from_baseline_pct
        -30.0
    """
    if len(dates) != len(series_uids):
        raise InputError(
            "one date and one series UID per scan", value=(len(dates), len(series_uids))
        )
    return [_trajectory(track, dates, series_uids) for track in tracks]


def _trajectory(track: Track, dates: Sequence[date], series_uids: Sequence[str]) -> Trajectory:
    if len(track.points) != len(dates):
        raise InputError(
            f"{track.tracking_identifier}: one point per scan",
            value=(len(track.points), len(dates)),
        )
    first = track.points[track.first_timepoint]
    obs = first.observation if first is not None else None
    node = bool(obs and obs.is_lymph_node)
    points: list[TrajectoryPoint] = []
    reference: tuple[float | None, float | None] | None = None
    earlier: list[float] = []
    for t in range(track.first_timepoint, len(dates)):
        point = track.points[t]
        status = point.status if point is not None else PointStatus.NOT_EVALUATED
        long, short, volume = _sizes(status, track, t)
        diameter = short if node else long
        if reference is None:
            reference = (diameter, volume)
        nadir = min(earlier) if earlier else None
        observation = point.observation if point is not None else None
        points.append(
            TrajectoryPoint(
                date=dates[t],
                timepoint=t,
                status=status.value,
                long_axis_mm=long,
                short_axis_mm=short,
                volume_mm3=volume,
                diameter_mm=diameter,
                change_from_baseline_pct=percent(diameter, reference[0]),
                change_from_nadir_pct=percent(diameter, nadir),
                nadir_mm=nadir,
                volume_change_from_baseline_pct=percent(volume, reference[1]),
                centre_mm=observation.centre_mm if observation is not None else None,
                centre_baseline_mm=point.centre_baseline_mm if point is not None else None,
                series_instance_uid=series_uids[t],
                note=point.note if point is not None else "",
            )
        )
        if diameter is not None:
            earlier.append(diameter)
    return Trajectory(
        tracking_identifier=track.tracking_identifier,
        tracking_uid=track.tracking_uid,
        organ=obs.organ if obs else "",
        is_lymph_node=node,
        nodule_type=obs.nodule_type.value if obs and obs.nodule_type else None,
        parent=track.parent,
        points=tuple(points),
        measurements=tuple(
            m
            for t in range(track.first_timepoint, len(dates))
            for m in point_measurements(track, t, dates[t])
        ),
    )
