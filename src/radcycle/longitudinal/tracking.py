"""Match lesions across time points: the same nodule on this year's scan as last year's.

Every observation is first carried into the baseline scan's patient coordinates
(through the inverse of the registration's baseline -> scan matrix), so distances
compare like with like. At each follow-up, lesions are assigned to tracks by an
optimal assignment (Hungarian method, :func:`scipy.optimize.linear_sum_assignment`)
on a cost that adds

* distance / gate, where the gate is the larger of ``gate_mm`` and a multiple of
  the two lesions' radii (a big lesion's centre moves more when it changes shape),
  widened where the registration was flagged as failed;
* ``size_weight`` x |log of the diameter ratio|, so a 20 mm mass is not matched to
  a 4 mm nodule beside it;
* appearance: ``appearance_weight`` x the difference of mean density (per 300 HU,
  at most 1), plus the same weight again when both nodule types are known and
  differ (a ground-glass nodule beside a solid one);
* nothing for pairs of different kinds: a lymph node never matches a lung nodule,
  nor a liver lesion a lung lesion (such pairs are forbidden).

Pairs beyond the gate are forbidden. What is left over is explained in the
vocabulary of RECIST 1.1 Appendix I ("lesions that split or coalesce on
treatment"): an unmatched new observation inside the extent of a tracked lesion
that was matched is a *split* fragment of it; an unmatched track whose last
extent holds a lesion matched to another track has *merged* into it; anything
else is *new* (observation) or *missing* (track: the caller decides whether it
disappeared or was not evaluated, e.g. by looking again at the mapped point).

Each track has a TrackingIdentifier (``"lesion 1"``, numbered by baseline size,
new lesions continuing the count in order of appearance) and a
TrackingUniqueIdentifier (DICOM PS3.16 TID 4108): a UID generated from the
patient, the study the lesion was first seen in, and its identifier, so the same
inputs always give the same UID.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.uid import generate_uid
from scipy.optimize import linear_sum_assignment

from radcycle.domain.findings import LesionMeasurement
from radcycle.errors import InputError

__all__ = [
    "PointStatus",
    "ScanLesions",
    "Track",
    "TrackPoint",
    "TrackingSettings",
    "observed",
    "to_baseline",
    "track_lesions",
    "tracking_uid",
]

FloatArray = npt.NDArray[np.float64]

_FORBIDDEN = 1e6


class PointStatus(StrEnum):
    """What happened to a tracked lesion at one time point."""

    BASELINE = "baseline"
    MATCHED = "matched"
    NEW = "new"
    SPLIT = "split"
    MERGED = "merged"
    MISSING = "missing"
    DISAPPEARED = "disappeared"
    NOT_EVALUATED = "not evaluated"


def observed(
    centre_mm: Sequence[float],
    long_axis_mm: float | None = None,
    short_axis_mm: float | None = None,
    volume_mm3: float | None = None,
    *,
    mean_hu: float | None = None,
    **fields: Any,
) -> LesionMeasurement:
    """A lesion seen on one scan, before tracking (a :class:`LesionMeasurement`).

    Example:
        >>> observed((0.0, 0.0, 0.0), 12.0, 9.0, organ="lung").radius_mm
        6.0
    """
    intensity = dict(fields.pop("intensity", {}) or {})
    if mean_hu is not None:
        intensity["mean_hu"] = mean_hu
    fields.setdefault("organ", "lung")
    centre = tuple(float(v) for v in centre_mm)
    if len(centre) != 3:
        raise InputError("an observation needs a finite 3D centre", value=centre_mm)
    return LesionMeasurement(
        centre_mm=(centre[0], centre[1], centre[2]),
        long_axis_mm=long_axis_mm,
        short_axis_mm=short_axis_mm,
        volume_mm3=volume_mm3,
        intensity=intensity,
        **fields,
    )


@dataclass(frozen=True)
class ScanLesions:
    """The lesions seen on one scan and where that scan sits relative to the baseline.

    Args:
        study_key: the scan's StudyInstanceUID (or another stable key).
        observations: lesions found on this scan.
        baseline_to_scan: 4x4, baseline LPS mm -> this scan's LPS mm (identity for
            the baseline itself).
        registration_failed: widen the gate (the mapping is not trusted).
    """

    study_key: str
    observations: tuple[LesionMeasurement, ...]
    baseline_to_scan: FloatArray = field(default_factory=lambda: np.eye(4))
    registration_failed: bool = False

    def __post_init__(self) -> None:
        m = np.asarray(self.baseline_to_scan, dtype=np.float64)
        if m.shape != (4, 4) or not np.all(np.isfinite(m)):
            raise InputError("baseline_to_scan must be a finite 4x4 matrix", value=m.shape)
        object.__setattr__(self, "baseline_to_scan", m)
        object.__setattr__(self, "observations", tuple(self.observations))
        for obs in self.observations:
            if obs.centre is None:
                raise InputError("an observation needs a finite 3D centre", value=obs.name)


@dataclass(frozen=True)
class TrackingSettings:
    """Matching parameters (mm unless stated).

    Args:
        gate_mm: smallest distance gate.
        gate_radius_factor: the gate is at least this times the sum of the radii.
        failed_registration_gate_mm: gate where the registration failed.
        size_weight: weight of |log diameter ratio| in the cost.
        appearance_weight: weight of the density and nodule-type differences.
    """

    gate_mm: float = 12.0
    gate_radius_factor: float = 1.0
    failed_registration_gate_mm: float = 30.0
    size_weight: float = 0.5
    appearance_weight: float = 0.3


@dataclass(frozen=True)
class TrackPoint:
    """A tracked lesion at one time point.

    Args:
        status: what happened (:class:`PointStatus`).
        observation: the lesion seen, or None (missing, disappeared, merged).
        centre_baseline_mm: the centre carried into baseline coordinates.
        distance_mm: distance to the track's previous position (baseline frame).
        note: the rule that decided (split from / merged into / gate), for the report.
    """

    status: PointStatus
    observation: LesionMeasurement | None = None
    centre_baseline_mm: tuple[float, float, float] | None = None
    distance_mm: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Track:
    """One lesion followed over time.

    Args:
        tracking_identifier: human-readable, e.g. ``"lesion 3"`` (DICOM TID 4108).
        tracking_uid: TrackingUniqueIdentifier (a DICOM UID).
        first_timepoint: index of the scan it was first seen on.
        points: one entry per scan (None before it was first seen).
        parent: for a split fragment, the track it split from.
    """

    tracking_identifier: str
    tracking_uid: str
    first_timepoint: int
    points: tuple[TrackPoint | None, ...]
    parent: str | None = None

    def last_seen(self, before: int) -> tuple[int, TrackPoint] | None:
        """The latest point with an observation before time point ``before``."""
        for t in range(min(before, len(self.points)) - 1, -1, -1):
            point = self.points[t]
            if point is not None and point.observation is not None:
                return t, point
        return None

    def with_point(self, t: int, point: TrackPoint) -> Track:
        """A copy with time point ``t`` replaced (the pipeline fills missing points)."""
        points = list(self.points)
        points[t] = point
        return replace(self, points=tuple(points))


def to_baseline(scan: ScanLesions, centre_mm: Sequence[float]) -> FloatArray:
    """A centre on ``scan`` carried into baseline patient coordinates."""
    inverse = np.linalg.inv(scan.baseline_to_scan)
    point = np.asarray(centre_mm, dtype=np.float64)
    result: FloatArray = inverse[:3, :3] @ point + inverse[:3, 3]
    return result


def tracking_uid(patient_key: str, study_key: str, tracking_identifier: str) -> str:
    """A TrackingUniqueIdentifier that is the same for the same inputs.

    Example:
        >>> tracking_uid("P1", "1.2.3", "lesion 1") == tracking_uid("P1", "1.2.3", "lesion 1")
        True
    """
    entropy = ["radcycle-tracking", patient_key, study_key, tracking_identifier]
    return str(generate_uid(entropy_srcs=entropy))


def _kind(obs: LesionMeasurement) -> tuple[bool, str]:
    return (obs.is_lymph_node, obs.organ.lower())


def _diameter(obs: LesionMeasurement) -> float:
    value = obs.short_axis_mm if obs.is_lymph_node else obs.long_axis_mm
    return float(value) if value is not None else 2.0 * obs.radius_mm


def _cost(
    prev: LesionMeasurement,
    prev_centre: FloatArray,
    obs: LesionMeasurement,
    centre: FloatArray,
    gate_floor: float,
    settings: TrackingSettings,
) -> float:
    if _kind(prev) != _kind(obs):
        return _FORBIDDEN
    gate = max(gate_floor, settings.gate_radius_factor * (prev.radius_mm + obs.radius_mm))
    distance = float(np.linalg.norm(centre - prev_centre))
    if distance > gate:
        return _FORBIDDEN
    ratio = abs(math.log((_diameter(obs) + 1.0) / (_diameter(prev) + 1.0)))
    return (
        distance / gate
        + settings.size_weight * ratio
        + settings.appearance_weight * _looks(prev, obs)
    )


def _looks(a: LesionMeasurement, b: LesionMeasurement) -> float:
    """Appearance difference in [0, 2]: density (per 300 HU, capped) and nodule type."""
    out = 0.0
    if a.mean_hu is not None and b.mean_hu is not None:
        out += min(abs(a.mean_hu - b.mean_hu) / 300.0, 1.0)
    if a.nodule_type and b.nodule_type and a.nodule_type != b.nodule_type:
        out += 1.0
    return out


def _baseline_tracks(scan: ScanLesions, count: int, patient_key: str) -> list[Track]:
    # Numbered by baseline size, largest first (ties by position), so "lesion 1" is
    # the dominant lesion whatever order the detector listed them in.
    order = sorted(scan.observations, key=lambda o: (-_diameter(o), tuple(np.round(o.centre, 3))))
    tracks = []
    for i, obs in enumerate(order, start=1):
        ident = f"lesion {i}"
        centre = to_baseline(scan, obs.centre)
        point = TrackPoint(PointStatus.BASELINE, obs, _tuple(centre))
        points: list[TrackPoint | None] = [None] * count
        points[0] = point
        uid = tracking_uid(patient_key, scan.study_key, ident)
        tracks.append(Track(ident, uid, 0, tuple(points)))
    return tracks


def _tuple(v: FloatArray) -> tuple[float, float, float]:
    return (round(float(v[0]), 3), round(float(v[1]), 3), round(float(v[2]), 3))


def track_lesions(
    scans: Sequence[ScanLesions],
    *,
    patient_key: str,
    settings: TrackingSettings | None = None,
) -> list[Track]:
    """Follow lesions through scans in date order (the first is the baseline).

    Args:
        scans: each scan's observations and its baseline -> scan matrix.
        patient_key: the patient (e.g. PatientID), for the tracking UIDs.
        settings: matching parameters.

    Returns:
        One :class:`Track` per lesion: baseline lesions first, then new ones in
        order of appearance.

    Example:
        >>> a = ScanLesions("1.1", (observed((0.0, 0.0, 0.0), 12.0, 9.0),))
        >>> b = ScanLesions("1.2", (observed((1.0, 0.0, 0.0), 10.0, 8.0),))
        >>> [p.status.value for p in track_lesions([a, b], patient_key="P")[0].points]
        ['baseline', 'matched']
    """
    if not scans:
        raise InputError("tracking needs at least one scan")
    settings = settings or TrackingSettings()
    count = len(scans)
    tracks = _baseline_tracks(scans[0], count, patient_key)
    for t in range(1, count):
        tracks = _step(tracks, scans[t], t, patient_key, settings)
    return tracks


def _step(
    tracks: list[Track], scan: ScanLesions, t: int, patient_key: str, settings: TrackingSettings
) -> list[Track]:
    gate_floor = settings.failed_registration_gate_mm if scan.registration_failed else 0.0
    gate_floor = max(gate_floor, settings.gate_mm)
    centres = [to_baseline(scan, o.centre) for o in scan.observations]
    live = [(i, s) for i, tr in enumerate(tracks) if (s := tr.last_seen(t)) is not None]
    cost = np.full((len(live), len(centres)), _FORBIDDEN)
    for r, (_, (_, point)) in enumerate(live):
        prev = point.observation
        prev_centre = np.asarray(point.centre_baseline_mm, dtype=np.float64)
        if prev is None:
            continue
        for c, obs in enumerate(scan.observations):
            cost[r, c] = _cost(prev, prev_centre, obs, centres[c], gate_floor, settings)
    rows, cols = linear_sum_assignment(cost) if cost.size else ([], [])
    matched_obs: dict[int, int] = {}
    for r, c in zip(rows, cols, strict=True):
        if cost[r, c] < _FORBIDDEN:
            matched_obs[int(c)] = live[int(r)][0]
    out = list(tracks)
    for c, ti in matched_obs.items():
        prev_centre = np.asarray(_last_centre(out[ti], t), dtype=np.float64)
        dist = float(np.linalg.norm(centres[c] - prev_centre))
        point = TrackPoint(PointStatus.MATCHED, scan.observations[c], _tuple(centres[c]), dist)
        out[ti] = out[ti].with_point(t, point)
    _mark_unmatched_tracks(out, live, matched_obs, scan, centres, t)
    _add_new_tracks(out, matched_obs, scan, centres, t, patient_key)
    return out


def _last_centre(track: Track, t: int) -> tuple[float, float, float]:
    seen = track.last_seen(t)
    if seen is None or seen[1].centre_baseline_mm is None:
        raise InputError(f"{track.tracking_identifier}: no earlier position")
    return seen[1].centre_baseline_mm


def _inside(centre: FloatArray, container: LesionMeasurement, container_centre: FloatArray) -> bool:
    # A lesion's centre within another's extent: they coalesced or fragmented
    # (RECIST 1.1 Appendix I); merely neighbouring lesions stay apart.
    return bool(np.linalg.norm(centre - container_centre) <= container.radius_mm)


def _mark_unmatched_tracks(
    out: list[Track],
    live: list[tuple[int, tuple[int, TrackPoint]]],
    matched_obs: dict[int, int],
    scan: ScanLesions,
    centres: list[FloatArray],
    t: int,
) -> None:
    matched_tracks = set(matched_obs.values())
    for ti, (_, point) in live:
        if ti in matched_tracks or point.observation is None:
            continue
        prev_centre = np.asarray(point.centre_baseline_mm, dtype=np.float64)
        into = [
            out[owner].tracking_identifier
            for c, owner in matched_obs.items()
            if _kind(scan.observations[c]) == _kind(point.observation)
            and _inside(prev_centre, scan.observations[c], centres[c])
        ]
        if into:
            note = f"merged into {into[0]} (RECIST 1.1 Appendix I: coalesced lesions)"
            out[ti] = out[ti].with_point(t, TrackPoint(PointStatus.MERGED, note=note))
        else:
            note = "no lesion within the gate of the mapped position"
            out[ti] = out[ti].with_point(t, TrackPoint(PointStatus.MISSING, note=note))


def _add_new_tracks(
    out: list[Track],
    matched_obs: dict[int, int],
    scan: ScanLesions,
    centres: list[FloatArray],
    t: int,
    patient_key: str,
) -> None:
    count = len(out[0].points) if out else t + 1
    for c, obs in enumerate(scan.observations):
        if c in matched_obs:
            continue
        parent = None
        for c2, owner in matched_obs.items():
            seen = out[owner].last_seen(t)
            if (
                seen is None
                or seen[1].observation is None
                or _kind(seen[1].observation) != _kind(obs)
            ):
                continue
            prev_centre = np.asarray(seen[1].centre_baseline_mm, dtype=np.float64)
            if _inside(centres[c], seen[1].observation, prev_centre) and c2 != c:
                parent = out[owner].tracking_identifier
                break
        ident = f"lesion {len(out) + 1}"
        if parent is not None:
            status = PointStatus.SPLIT
            note = f"split from {parent} (RECIST 1.1 Appendix I: fragmented lesion)"
        else:
            status, note = PointStatus.NEW, "no tracked lesion within the gate"
        points: list[TrackPoint | None] = [None] * count
        points[t] = TrackPoint(status, obs, _tuple(centres[c]), None, note)
        uid = tracking_uid(patient_key, scan.study_key, ident)
        out.append(Track(ident, uid, t, tuple(points), parent))
