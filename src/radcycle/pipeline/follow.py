"""Follow one patient over time: register, find, track, measure and assess.

:func:`follow_patient` takes the scans of one patient (any order; sorted by
study date, the earliest is the baseline) and a *finder* that proposes lesions
on a scan (a detector, or the radiologist's clicks), and returns everything
``radcycle follow`` prints:

1. each follow-up registered to the baseline (:func:`radcycle.imaging.registration.register`);
2. each proposed lesion segmented at its point (click-to-segment,
   :func:`radcycle.imaging.segmentation.segment_at_seed`) and measured
   (:func:`radcycle.imaging.measurement.measure_mask`);
3. lesions matched across scans (:func:`radcycle.longitudinal.tracking.track_lesions`);
   a lesion first proposed on a follow-up is looked for on the earlier scans
   (a new lesion must be unequivocally new), and a tracked lesion that nobody
   proposed on a later scan is looked for again at its mapped position
   (:mod:`radcycle.pipeline.follow_lookup`): aerated lung there means it
   disappeared, a lesion there is measured, anything else is "not evaluated";
4. per-lesion trajectories, and the guideline engines on every exam
   (:mod:`radcycle.pipeline.follow_guidelines`).

Every number carries the SeriesInstanceUID it was measured on and the rule or
method that produced it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from radcycle.domain.findings import LesionMeasurement
from radcycle.errors import AnalysisError, InputError
from radcycle.imaging.detection import DetectionSettings, detect_nodules
from radcycle.imaging.registration import (
    RegistrationResult,
    RegistrationSettings,
    apply_matrix,
    register,
)
from radcycle.longitudinal.tracking import (
    PointStatus,
    ScanLesions,
    Track,
    TrackingSettings,
    track_lesions,
)
from radcycle.longitudinal.trajectories import Trajectory, build_trajectories
from radcycle.pipeline.follow_guidelines import GuidelineContext, ScanAssessment, assess_scans
from radcycle.pipeline.follow_lookup import LookupContext, look_again, look_back
from radcycle.pipeline.follow_new import (
    NEW_LESION_MIN_CONFIDENCE,
    NewLesionReview,
    check_review_ids,
    keep_candidate,
    review_tracks,
)
from radcycle.pipeline.scans import LesionMask, LesionSeed, Scan, measure_seed, scan_from_volume

__all__ = [
    "FOLLOW_SCHEMA_VERSION",
    "FollowResult",
    "FollowSettings",
    "LesionFinder",
    "LesionSeed",
    "Scan",
    "detector_finder",
    "follow_patient",
    "review_new_lesions",
    "scan_from_volume",
]

log = logging.getLogger(__name__)

#: follow.json version. 2: RECIST targets cite their image, algorithm and
#: fragments as structured records (before, unversioned, a prose ``source``).
FOLLOW_SCHEMA_VERSION = "2"

LesionFinder = Callable[[Scan], Sequence[LesionSeed]]


@dataclass(frozen=True)
class FollowSettings:
    """How :func:`follow_patient` runs.

    Args:
        registration: passed to :func:`~radcycle.imaging.registration.register`.
        tracking: passed to :func:`~radcycle.longitudinal.tracking.track_lesions`.
        guidelines: patient context for the guideline engines.
        look_again: look for unproposed tracked lesions at their mapped position.
        strict_baseline: a lesion proposed on the baseline that cannot be measured
            there is an error (the radiologist named it), not a note.
        confirmed_new: TrackingIdentifiers of new lesions a radiologist confirmed.
        rejected_new: TrackingIdentifiers of new lesions a radiologist rejected.
        new_lesion_min_confidence: a detection on a follow-up where no lesion was
            before is kept only with this confidence or more.
    """

    registration: RegistrationSettings = field(default_factory=RegistrationSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    guidelines: GuidelineContext = field(default_factory=GuidelineContext)
    look_again: bool = True
    strict_baseline: bool = False
    confirmed_new: tuple[str, ...] = ()
    rejected_new: tuple[str, ...] = ()
    new_lesion_min_confidence: float = NEW_LESION_MIN_CONFIDENCE


@dataclass(frozen=True)
class FollowResult:
    """Everything about one patient's course."""

    scans: tuple[Scan, ...]
    registrations: tuple[RegistrationResult | None, ...]
    tracks: tuple[Track, ...]
    trajectories: tuple[Trajectory, ...]
    assessments: tuple[ScanAssessment, ...]
    recist: dict[str, Any]
    notes: tuple[str, ...] = ()
    masks: Mapping[tuple[int, str], LesionMask] = field(default_factory=dict)
    new_lesions: tuple[NewLesionReview, ...] = ()
    guidelines: GuidelineContext = field(default_factory=GuidelineContext)
    slice_thickness_mm: float = 5.0
    proposals: Mapping[str, LesionSeed] = field(default_factory=dict)

    def mask_of(self, track: Track, t: int) -> npt.NDArray[np.bool_] | None:
        """``track``'s mask on scan ``t``'s grid, where one was outlined or carried."""
        point = track.points[t]
        if point is None or point.observation is None:
            return None
        stored = self.masks.get((t, point.observation.key))
        return None if stored is None else stored.full(self.scans[t].volume.array.shape)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``radcycle follow --json`` (LPS mm, ISO dates)."""
        return {
            "schema_version": FOLLOW_SCHEMA_VERSION,
            "patient_id": self.scans[0].patient_id,
            "coordinates": "DICOM patient coordinates (LPS), millimetres",
            "scans": [
                {
                    "timepoint": t,
                    "date": scan.exam_date.isoformat(),
                    "study_instance_uid": scan.study_instance_uid,
                    "series_instance_uid": scan.series_instance_uid,
                    "registration_to_baseline": reg.to_dict() if reg is not None else None,
                }
                for t, (scan, reg) in enumerate(zip(self.scans, self.registrations, strict=True))
            ],
            "lesions": [traj.to_dict() for traj in self.trajectories],
            "recist": self.recist,
            "timepoints": [a.to_dict() for a in self.assessments],
            "new_lesions": [r.to_dict() for r in self.new_lesions],
            "notes": list(self.notes),
        }


def detector_finder(settings: DetectionSettings | None = None) -> LesionFinder:
    """A finder that runs the lung nodule detector on every scan.

    Each detection keeps its own measurements and mask (cropped), so tracked
    nodules can be carried over where a later outline fails.
    """

    def find(scan: Scan) -> list[LesionSeed]:
        seeds = []
        for i, (det, mask) in enumerate(detect_nodules(scan.volume, settings=settings)):
            seeds.append(
                LesionSeed(
                    det.centre_mm,
                    "lung",
                    False,
                    f"t{scan.exam_date:%Y%m%d}:detection {i + 1}",
                    det.measurements,
                    f"{det.provenance.method} (confidence {det.confidence:.2f})",
                    LesionMask.of(mask),
                    det.confidence,
                )
            )
        return seeds

    return find


def _observations(
    scan: Scan,
    t: int,
    seeds: Sequence[LesionSeed],
    masks: dict[tuple[int, str], LesionMask],
    strict: bool = False,
) -> tuple[list[LesionMeasurement], list[str]]:
    found, notes = [], []
    for i, seed in enumerate(seeds):
        key = seed.label or f"t{t}:{i}"
        try:
            obs, mask, _ = measure_seed(scan, seed, key)
        except (AnalysisError, InputError) as exc:
            where = tuple(round(float(v), 1) for v in seed.point_mm)
            if strict:
                raise InputError(
                    f"{seed.label or 'a lesion'} cannot be measured on the baseline "
                    f"({scan.exam_date}): {exc.message}",
                    value=list(where),
                ) from exc
            notes.append(f"{scan.exam_date}: lesion at {where} not measured: {exc}")
            continue
        found.append(obs)
        if mask is not None:
            masks[(t, key)] = mask
    return found, notes


def _fill_missing(tracks: list[Track], ctx: LookupContext) -> list[Track]:
    out = []
    for track in tracks:
        for t in range(track.first_timepoint + 1, len(ctx.scans)):
            point = track.points[t]
            if point is not None and point.status is PointStatus.MISSING:
                track = track.with_point(t, look_again(track, t, ctx))
        out.append(track)
    return out


def _register(baseline: Scan, scan: Scan, settings: RegistrationSettings) -> RegistrationResult:
    try:
        return register(baseline.volume, scan.volume, settings)
    except AnalysisError as exc:
        # Follow on in the scanners' own coordinates, flagged, rather than stop.
        reason = f"registration did not run ({exc}); identity used"
        return RegistrationResult(
            np.eye(4), "identity", 0.0, 0.0, True, reason, 0.0, {}, "identity"
        )


def follow_patient(
    scans: Sequence[Scan],
    finder: LesionFinder,
    settings: FollowSettings | None = None,
) -> FollowResult:
    """Register, track, measure and assess a patient's scans.

    Args:
        scans: the patient's CT scans (sorted here by exam date).
        finder: proposes lesions on a scan (detector output or clicked points).
        settings: registration, tracking and guideline context.

    Raises:
        InputError: fewer than one scan, or two scans on the same date.
    """
    settings = settings or FollowSettings()
    ordered = sorted(scans, key=lambda s: s.exam_date)
    if not ordered:
        raise InputError("follow needs at least one scan")
    dates = [s.exam_date for s in ordered]
    if len(set(dates)) != len(dates):
        raise InputError("two scans share a study date", value=[d.isoformat() for d in dates])
    baseline = ordered[0]
    registrations: list[RegistrationResult | None] = [None]
    notes: list[str] = []
    for scan in ordered[1:]:
        result = _register(baseline, scan, settings.registration)
        registrations.append(result)
        if result.failed:
            notes.append(f"{scan.exam_date}: registration flagged: {result.reason}")
    lesion_sets = []
    masks: dict[tuple[int, str], LesionMask] = {}
    proposals: dict[str, LesionSeed] = {}
    known: list[tuple[float, float, float]] = []  # lesions seen so far, baseline LPS
    matrices = [reg.matrix if reg is not None else np.eye(4) for reg in registrations]
    for t, (scan, reg) in enumerate(zip(ordered, registrations, strict=True)):
        strict = settings.strict_baseline and t == 0
        try:
            proposed = finder(scan)
        except AnalysisError as exc:
            # e.g. a field of view without lungs: the detector cannot run there.
            # "No lesion" must never read as "none found": on the baseline that
            # would be "no evidence of disease", so it stops there.
            if t == 0:
                raise InputError(
                    f"no lesions can be proposed on the baseline ({scan.exam_date}): "
                    f"{exc.message}; name the lesions to follow with --lesion x,y,z[:organ]"
                ) from exc
            notes.append(
                f"{scan.exam_date}: new lesions could not be looked for ({exc.message}); "
                "the assessment of new lesions on this exam is incomplete"
            )
            proposed = []
        if t > 0:
            weak = [
                seed
                for seed in proposed
                if not keep_candidate(
                    seed,
                    matrices[t],
                    known,
                    settings.tracking.gate_mm,
                    settings.new_lesion_min_confidence,
                )
            ]
            dropped = {id(seed) for seed in weak}
            proposed = [seed for seed in proposed if id(seed) not in dropped]
            notes.extend(
                f"{scan.exam_date}: a candidate at "
                f"{tuple(round(float(v), 1) for v in seed.point_mm)} (confidence "
                f"{seed.confidence:.2f}) was left out: where no lesion was before, a "
                f"detection needs a confidence of {settings.new_lesion_min_confidence:.2f}"
                for seed in weak
            )
        proposals.update({seed.label: seed for seed in proposed if seed.label})
        found, problems = _observations(scan, t, proposed, masks, strict)
        notes.extend(problems)
        for m in found:
            x, y, z = apply_matrix(np.linalg.inv(matrices[t]), [m.centre])[0]
            known.append((float(x), float(y), float(z)))
        failed = bool(reg is not None and reg.failed)
        lesion_sets.append(ScanLesions(scan.study_instance_uid, tuple(found), matrices[t], failed))
    patient_key = baseline.patient_id or baseline.study_instance_uid
    tracks = track_lesions(lesion_sets, patient_key=patient_key, settings=settings.tracking)
    if settings.look_again:
        ctx = LookupContext(ordered, matrices, masks, settings.tracking.gate_mm, patient_key)
        tracks = _fill_missing([look_back(track, ctx) for track in tracks], ctx)
    trajectories = build_trajectories(tracks, dates, [s.series_instance_uid for s in ordered])
    acq = baseline.volume.acquisition
    given = acq.slice_thickness_mm if acq is not None else None
    thickness = float(given or baseline.volume.metadata.get("slice_thickness") or 0.0)
    thickness = thickness or float(baseline.volume.spacing[2])
    course = FollowResult(
        scans=tuple(ordered),
        registrations=tuple(registrations),
        tracks=tuple(tracks),
        trajectories=tuple(trajectories),
        assessments=(),
        recist={},
        notes=tuple(notes),
        masks=masks,
        guidelines=settings.guidelines,
        slice_thickness_mm=thickness,
        proposals=proposals,
    )
    return review_new_lesions(course, settings.confirmed_new, settings.rejected_new)


def review_new_lesions(
    result: FollowResult, confirmed: Sequence[str] = (), rejected: Sequence[str] = ()
) -> FollowResult:
    """Settle new lesions by a radiologist's word and assess the guidelines again.

    This is what a review service calls when the radiologist confirms or rejects
    a new lesion: nothing is registered or measured again. A new lesion found
    only by the detector and neither confirmed nor rejected stays unconfirmed:
    RECIST is given without it (``category``) and with it
    (``category_with_unconfirmed``).

    Args:
        result: a course from :func:`follow_patient` (or an earlier review).
        confirmed: TrackingIdentifiers of new lesions confirmed.
        rejected: TrackingIdentifiers of new lesions rejected.

    Raises:
        InputError: an identifier is not a new lesion of this course.
    """
    check_review_ids(result.tracks, confirmed, rejected)
    reviews = review_tracks(result.tracks, result.scans, result.proposals, confirmed, rejected)
    context = replace(
        result.guidelines,
        unconfirmed_new_lesions=tuple(
            r.tracking_identifier for r in reviews if r.status == "unconfirmed"
        ),
        rejected_new_lesions=tuple(
            r.tracking_identifier for r in reviews if r.status == "rejected"
        ),
    )
    baseline = result.scans[0]
    assessments, recist = assess_scans(
        [s.exam_date for s in result.scans],
        [s.series_instance_uid for s in result.scans],
        result.tracks,
        context,
        birth_date=baseline.birth_date,
        slice_thickness_mm=result.slice_thickness_mm,
    )
    return replace(
        result,
        assessments=tuple(assessments),
        recist=recist,
        new_lesions=tuple(reviews),
        guidelines=replace(context, unconfirmed_new_lesions=(), rejected_new_lesions=()),
    )
