"""New lesions on follow-up scans: unconfirmed until a radiologist says otherwise.

RECIST 1.1 (section 4.3.5) counts a new lesion only when it is unequivocal, and
a detector is not a radiologist: a new lesion proposed only by the detector is
*unconfirmed*. It stays in the output with its evidence (the detector's
confidence, where and how large it was found, and that it was looked for and
not found at the registered position on the earlier scans), and the response
assessment is given without it and with it. A radiologist's confirmation
(``--confirm-new``, :func:`radcycle.pipeline.follow.review_new_lesions`) makes it
count; a rejection leaves it out everywhere.

Follow-up false positives are reduced before tracking: a candidate on a
follow-up that lies where no lesion was before must pass the detector's tests by
a wider margin (:data:`NEW_LESION_MIN_CONFIDENCE`) than a lesion already known;
and a candidate found at the registered position of an earlier scan is not new
at all (:func:`radcycle.pipeline.follow_lookup.look_back`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from radcycle.errors import InputError
from radcycle.imaging.registration import apply_matrix
from radcycle.longitudinal.tracking import PointStatus, Track
from radcycle.pipeline.scans import LesionSeed, Scan

__all__ = [
    "NEW_LESION_MIN_CONFIDENCE",
    "NewLesionReview",
    "check_review_ids",
    "keep_candidate",
    "review_tracks",
]

FloatArray = npt.NDArray[np.float64]

#: A detection on a follow-up where no lesion was before must have at least this
#: confidence (the detector's logistic of its test margins; 0.5 is at the limits).
#: Chosen on 20 synthetic patients (``python -m benchmarks.run new-lesions``).
NEW_LESION_MIN_CONFIDENCE = 0.8

CONFIRMED = "confirmed"
UNCONFIRMED = "unconfirmed"
REJECTED = "rejected"


@dataclass(frozen=True)
class NewLesionReview:
    """A lesion first seen on a follow-up, and where its confirmation stands.

    Args:
        tracking_identifier: e.g. ``"lesion 6"``.
        first_seen: index of the scan it was first seen on.
        exam_date: that scan's date (ISO).
        status: ``unconfirmed`` (found only by the detector), ``confirmed`` (by a
            radiologist, or proposed by one) or ``rejected`` (by a radiologist).
        confidence: the detector's confidence, where the detector found it.
        long_axis_mm: its long axis where first seen.
        centre_mm: its centre there (LPS mm).
        evidence: what it rests on, in words.
    """

    tracking_identifier: str
    first_seen: int
    exam_date: str
    status: str
    confidence: float | None
    long_axis_mm: float | None
    centre_mm: tuple[float, float, float] | None
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracking_identifier": self.tracking_identifier,
            "first_seen_timepoint": self.first_seen,
            "date": self.exam_date,
            "status": self.status,
            "confidence": self.confidence,
            "long_axis_mm": self.long_axis_mm,
            "centre_mm": list(self.centre_mm) if self.centre_mm is not None else None,
            "evidence": self.evidence,
        }


def keep_candidate(
    seed: LesionSeed,
    baseline_to_scan: FloatArray,
    known_baseline_mm: Sequence[tuple[float, float, float]],
    gate_mm: float,
    min_confidence: float = NEW_LESION_MIN_CONFIDENCE,
) -> bool:
    """Whether a follow-up detection is kept: confident enough, or where a lesion was.

    Args:
        seed: the detection (its ``confidence`` is None for a lesion a person gave).
        baseline_to_scan: 4x4, baseline LPS -> this scan's LPS.
        known_baseline_mm: centres of the lesions seen on earlier scans, in
            baseline coordinates.
        gate_mm: how near a known lesion a weak detection may still be kept.
        min_confidence: the margin asked of a detection where no lesion was.

    Example:
        >>> seed = LesionSeed((0.0, 0.0, 0.0), confidence=0.6)
        >>> keep_candidate(seed, np.eye(4), [(5.0, 0.0, 0.0)], 12.0)
        True
        >>> keep_candidate(seed, np.eye(4), [(50.0, 0.0, 0.0)], 12.0)
        False
    """
    if seed.confidence is None or seed.confidence >= min_confidence:
        return True
    back = apply_matrix(np.linalg.inv(baseline_to_scan), [seed.point_mm])[0]
    return any(float(np.linalg.norm(back - np.asarray(c))) <= gate_mm for c in known_baseline_mm)


def check_review_ids(
    tracks: Iterable[Track], confirmed: Iterable[str], rejected: Iterable[str]
) -> None:
    """Refuse a confirmation or rejection of anything but a new lesion of this course.

    Raises:
        InputError: an identifier is not a new lesion, or is both confirmed and rejected.
    """
    new = sorted(t.tracking_identifier for t in tracks if _is_new(t))
    both = set(confirmed) & set(rejected)
    if both:
        raise InputError("a new lesion cannot be both confirmed and rejected", value=sorted(both))
    for option, ids in (("--confirm-new", confirmed), ("--reject-new", rejected)):
        for ident in ids:
            if ident not in new:
                raise InputError(
                    f"{option} {ident}: not a new lesion of this course "
                    f"(new lesions: {', '.join(new) or 'none'})",
                    value=ident,
                )


def _is_new(track: Track) -> bool:
    if track.first_timepoint == 0 or track.parent is not None:
        return False
    first = track.points[track.first_timepoint]
    return first is not None and first.status is PointStatus.NEW


def review_tracks(
    tracks: Sequence[Track],
    scans: Sequence[Scan],
    proposals: Mapping[str, LesionSeed],
    confirmed: Iterable[str] = (),
    rejected: Iterable[str] = (),
) -> list[NewLesionReview]:
    """Every new lesion of the course with its status and evidence.

    Args:
        tracks: the tracked lesions.
        scans: the scans, in order.
        proposals: observation key -> the seed that proposed it.
        confirmed: TrackingIdentifiers a radiologist confirmed.
        rejected: TrackingIdentifiers a radiologist rejected.
    """
    confirmed, rejected = set(confirmed), set(rejected)
    out = []
    for track in tracks:
        if not _is_new(track):
            continue
        t = track.first_timepoint
        point = track.points[t]
        obs = point.observation if point is not None else None
        seed = proposals.get(obs.key) if obs is not None else None
        by_detector = seed is not None and seed.confidence is not None
        ident = track.tracking_identifier
        if ident in rejected:
            status = REJECTED
        elif ident in confirmed or not by_detector:
            status = CONFIRMED
        else:
            status = UNCONFIRMED
        scan = scans[t]
        size = obs.long_axis_mm if obs is not None else None
        centre = obs.centre_mm if obs is not None else None
        found = (
            f"found by the lung nodule detector ({seed.method})"
            if by_detector and seed is not None
            else "proposed by a reader"
        )
        where = "" if centre is None else f" at {tuple(round(v, 1) for v in centre)} mm LPS"
        size_text = "" if size is None else f", long axis {size:.1f} mm"
        earlier = (
            "not found at its registered position on the earlier scan"
            + ("s" if t > 1 else "")
            + " (looked for again there)"
        )
        decided = {
            CONFIRMED: "; confirmed by a radiologist" if ident in confirmed else "",
            REJECTED: "; rejected by a radiologist: left out of the response",
            UNCONFIRMED: "; unconfirmed: the response is given without it and with it",
        }[status]
        out.append(
            NewLesionReview(
                ident,
                t,
                scan.exam_date.isoformat(),
                status,
                seed.confidence if seed is not None else None,
                size,
                centre,
                f"{found} on series {scan.series_instance_uid}{where}{size_text}; "
                f"{earlier}{decided}",
            )
        )
    return out
