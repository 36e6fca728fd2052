"""The guideline engines over a tracked course: RECIST 1.1, Lung-RADS v2022, Fleischner 2017.

Tracked lesions are :class:`~radcycle.domain.findings.LesionMeasurement`
records with their identity (TrackingIdentifier as ``lesion_id``,
TrackingUniqueIdentifier, study date) and their image and algorithm unchanged
(:func:`~radcycle.longitudinal.measurements.point_record`), then:

* RECIST 1.1: baseline targets chosen by
  :func:`~radcycle.guidelines.recist.select_targets`, each follow-up built by
  :func:`~radcycle.guidelines.recist_response.follow_up_from_tracked` (lesions not
  known at baseline are new lesions) and assessed by
  :func:`~radcycle.guidelines.recist_series.assess_series`. Split lesions follow
  RECIST 1.1 Appendix I: the fragments' long axes are added to the lesion they
  split from; a lesion that merged into another counts 0 mm, the coalesced
  lesion carrying the whole diameter.
* Lung-RADS v2022 per exam (:func:`~radcycle.guidelines.lungrads.lung_rads`): lung
  nodules, with the prior measurement of the same tracked nodule and the
  interval in months; the first exam is the baseline round.
* Fleischner 2017 per exam (:func:`~radcycle.guidelines.fleischner.fleischner`)
  where the patient's age is known; its own exclusions (known cancer, screening)
  are inputs and make it "not applicable". The previous exam's nodules are its
  priors (persistence and growth of a part-solid nodule's solid part).

The reader's calls the images cannot give are context inputs: new lesions that
are equivocal on a given exam (RECIST 1.1 section 4.3.5), and Lung-RADS airway
nodules and atypical cysts by TrackingIdentifier.

A new lesion found only by the detector is *unconfirmed* until a radiologist
confirms it: RECIST is assessed without it (``category``) and with it
(``category_with_unconfirmed``), so no response category rests on a lesion no
one has seen; a rejected new lesion is left out of both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from radcycle.domain.findings import LesionMeasurement, LesionStatus, NoduleType, parse_enum
from radcycle.guidelines.fleischner import FleischnerPatient, fleischner
from radcycle.guidelines.lungrads import (
    GUIDELINE as LUNG_RADS_GUIDELINE,
)
from radcycle.guidelines.lungrads import (
    AirwayNodule,
    CystFinding,
    LungRadsExam,
    LungRadsNodule,
    NoduleCategory,
    classify_nodule,
    lung_rads,
)
from radcycle.guidelines.recist import RecistBaseline, select_targets
from radcycle.guidelines.recist_response import follow_up_from_tracked
from radcycle.guidelines.recist_series import RecistOptions, RecistSeries, assess_series
from radcycle.guidelines.results import GuidelineResult
from radcycle.longitudinal.measurements import point_record
from radcycle.longitudinal.tracking import Track

__all__ = ["GuidelineContext", "ScanAssessment", "assess_scans", "lesion_measurements"]

_DAYS_PER_MONTH = 30.4375
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class GuidelineContext:
    """What the engines need beyond the images (clinical inputs).

    Args:
        immunotherapy: apply iRECIST.
        chosen_target_ids: the radiologist's RECIST targets (TrackingIdentifiers).
        high_risk: Fleischner 2017 risk (reader's judgement).
        known_cancer: a Fleischner 2017 exclusion.
        known_lung_cancer: the record names a lung cancer: Lung-RADS v2022, a
            screening scheme, does not apply (its category would be misread).
        screening: the exams are lung cancer screening (Fleischner does not apply).
        slice_thickness_mm: RECIST measurability; taken from the baseline if None.
        equivocal_new_lesions: (TrackingIdentifier, exam date) pairs where a new
            lesion is equivocal on that exam (RECIST 1.1 section 4.3.5).
        airway_nodules: TrackingIdentifier -> Lung-RADS airway level
            (``"subsegmental"``, ``"segmental or more proximal"``).
        atypical_cysts: TrackingIdentifier -> Lung-RADS atypical cyst finding.
        unconfirmed_new_lesions: TrackingIdentifiers of new lesions found only by
            the detector and not yet confirmed: RECIST is given without and with them.
        rejected_new_lesions: TrackingIdentifiers of new lesions a radiologist
            rejected: left out of RECIST.
    """

    immunotherapy: bool = False
    chosen_target_ids: tuple[str, ...] | None = None
    high_risk: bool = False
    known_cancer: bool = False
    known_lung_cancer: bool = False
    screening: bool = False
    slice_thickness_mm: float | None = None
    equivocal_new_lesions: tuple[tuple[str, date], ...] = ()
    airway_nodules: Mapping[str, str] = field(default_factory=dict)
    atypical_cysts: Mapping[str, str] = field(default_factory=dict)
    unconfirmed_new_lesions: tuple[str, ...] = ()
    rejected_new_lesions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanAssessment:
    """The guidelines on one exam."""

    exam_date: date
    series_instance_uid: str
    lesions: tuple[LesionMeasurement, ...]
    lung_rads: GuidelineResult | None
    fleischner: GuidelineResult | None
    recist: GuidelineResult | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    lung_rads_nodules: tuple[NoduleCategory, ...] = ()

    def lung_rads_of(self, lesion_id: str) -> NoduleCategory | None:
        """The Lung-RADS v2022 category of one nodule on this exam, if it has one."""
        return next((n for n in self.lung_rads_nodules if n.lesion_id == lesion_id), None)

    def to_dict(self) -> dict[str, Any]:
        uids = {m.lesion_id: m.tracking_uid for m in self.lesions}
        return {
            "date": self.exam_date.isoformat(),
            "series_instance_uid": self.series_instance_uid,
            "recist": self.recist.to_dict() if self.recist else None,
            "lung_rads": self.lung_rads.to_dict() if self.lung_rads else None,
            "lung_rads_nodules": [
                {
                    "tracking_identifier": n.lesion_id,
                    "tracking_uid": uids.get(n.lesion_id, ""),
                    "category": n.category,
                    "mean_diameter_mm": n.mean_mm,
                    "solid_component_mm": n.solid_mm,
                    "rule": n.rule,
                }
                for n in self.lung_rads_nodules
            ],
            "fleischner": self.fleischner.to_dict() if self.fleischner else None,
            "notes": list(self.notes),
        }


def _measurement(track: Track, t: int, exam_date: date) -> LesionMeasurement | None:
    record = point_record(track, t, exam_date)
    if record is None:
        return None
    if record.status is not LesionStatus.MEASURED:
        return replace(record, nodule_type=_nodule_type(record.nodule_type))
    return replace(record, nodule_type=_nodule_type(record.nodule_type, record.solid_component_mm))


def _nodule_type(value: str | None, solid_mm: float | None = 0.0) -> NoduleType | None:
    if value not in {n.value for n in NoduleType}:
        return None
    kind = NoduleType(value)
    # A part-solid nodule whose solid part was not measured cannot use the
    # part-solid rules; it is then managed as solid (see _with_type).
    return None if kind is NoduleType.PART_SOLID and solid_mm is None else kind


def _add_fragments(
    lesions: dict[str, LesionMeasurement], tracks: Sequence[Track], t: int
) -> dict[str, LesionMeasurement]:
    # RECIST 1.1 Appendix I: the long axes of a fragmented lesion's parts are added.
    for track in tracks:
        if track.parent is None or track.parent not in lesions:
            continue
        part = lesions.pop(track.tracking_identifier, None)
        whole = lesions[track.parent]
        if part is None or part.long_axis_mm is None or whole.long_axis_mm is None:
            continue
        # dataclasses.replace keeps every other field of the parent (nodule type,
        # solid component, status), so a split part-solid nodule stays assessable.
        lesions[track.parent] = replace(
            whole,
            long_axis_mm=whole.long_axis_mm + part.long_axis_mm,
            volume_mm3=(whole.volume_mm3 or 0.0) + (part.volume_mm3 or 0.0),
            fragments=(*whole.fragments, part.lesion_id),
        )
    return lesions


def lesion_measurements(
    tracks: Sequence[Track], t: int, exam_date: date
) -> tuple[LesionMeasurement, ...]:
    """Every tracked lesion at scan ``t`` as a guideline input."""
    found = {}
    for track in tracks:
        m = _measurement(track, t, exam_date)
        if m is not None:
            found[m.lesion_id] = m
    return tuple(_add_fragments(found, tracks, t).values())


def _is_nodule(m: LesionMeasurement) -> bool:
    return (
        m.organ.lower() == "lung"
        and not m.is_lymph_node
        and m.status is LesionStatus.MEASURED
        and m.short_axis_mm is not None
    )


def _age(birth: date | None, on: date) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _lung_rads_exam(
    t: int,
    dates: Sequence[date],
    per_scan: Sequence[tuple[LesionMeasurement, ...]],
    prior_categories: dict[str, str],
    context: GuidelineContext,
) -> LungRadsExam:
    nodules = []
    previous = {m.lesion_id: m for m in per_scan[t - 1]} if t else {}
    months = (dates[t] - dates[t - 1]).days / _DAYS_PER_MONTH if t else None
    for m in per_scan[t]:
        if not _is_nodule(m):
            continue
        current = m if m.nodule_type else _with_type(m)
        prior = previous.get(m.lesion_id)
        prior = prior if prior is not None and _is_nodule(prior) else None
        nodules.append(
            LungRadsNodule(
                current,
                prior=_with_type(prior) if prior is not None else None,
                months_since_prior=months if prior is not None else None,
                prior_category=prior_categories.get(m.lesion_id) if prior is not None else None,
                airway=_reader_call(AirwayNodule, context.airway_nodules, m.lesion_id),
                cyst=_reader_call(CystFinding, context.atypical_cysts, m.lesion_id),
            )
        )
    return LungRadsExam(dates[t], tuple(nodules), baseline_round=t == 0)


def _reader_call(kind: type[E], calls: Mapping[str, str], lesion_id: str) -> E | None:
    value = calls.get(lesion_id)
    return None if value is None else parse_enum(kind, value, f"{lesion_id}: {kind.__name__}")


def _with_type(m: LesionMeasurement) -> LesionMeasurement:
    if m.nodule_type is not None:
        return m
    # A nodule whose attenuation was not classified is managed as solid (the
    # stricter size thresholds of Lung-RADS v2022 and Fleischner 2017).
    # replace() keeps every other field (status, solid component, provenance).
    return replace(m, nodule_type=NoduleType.SOLID)


def assess_scans(
    dates: Sequence[date],
    series_uids: Sequence[str],
    tracks: Sequence[Track],
    context: GuidelineContext,
    *,
    birth_date: date | None = None,
    slice_thickness_mm: float = 5.0,
) -> tuple[list[ScanAssessment], dict[str, Any]]:
    """RECIST 1.1 over the course, Lung-RADS and Fleischner on every exam.

    Returns:
        One :class:`ScanAssessment` per exam, and the RECIST summary (baseline
        targets and non-targets, the sum per exam, best overall response).
    """
    per_scan = [lesion_measurements(tracks, t, when) for t, when in enumerate(dates)]
    assessments: list[ScanAssessment] = []
    prior_categories: dict[str, str] = {}
    for t, exam_date in enumerate(dates):
        exam = _lung_rads_exam(t, dates, per_scan, prior_categories, context)
        per_nodule = tuple(classify_nodule(n, baseline_round=t == 0) for n in exam.nodules)
        if context.known_lung_cancer and exam.nodules:
            lr: GuidelineResult | None = _lung_rads_not_applicable(exam_date)
            per_nodule = ()
        else:
            lr = lung_rads(exam) if exam.nodules else None
        prior_categories = {n.lesion_id: n.category for n in per_nodule}
        assessments.append(
            ScanAssessment(
                exam_date,
                series_uids[t],
                per_scan[t],
                lr,
                _fleischner(
                    per_scan[t],
                    context,
                    _age(birth_date, exam_date),
                    exam_date,
                    per_scan[t - 1] if t else (),
                ),
                lung_rads_nodules=per_nodule,
            )
        )
    thickness = context.slice_thickness_mm or slice_thickness_mm
    recist = _recist(dates, per_scan, context, thickness, assessments)
    return assessments, recist


def _lung_rads_not_applicable(exam_date: date) -> GuidelineResult:
    return GuidelineResult(
        guideline=LUNG_RADS_GUIDELINE,
        category="not applicable",
        recommendation="manage the known lung cancer clinically; Lung-RADS categories do not apply",
        rule_fired=(
            f"{LUNG_RADS_GUIDELINE} is a lung cancer screening scheme: not applicable where the "
            "record names a known lung cancer"
        ),
        inputs={"exam_date": exam_date, "known_lung_cancer": True},
        applicable=False,
    )


def _fleischner(
    lesions: Sequence[LesionMeasurement],
    context: GuidelineContext,
    age: int | None,
    exam_date: date,
    previous: Sequence[LesionMeasurement] = (),
) -> GuidelineResult | None:
    nodules = [_with_type(m) for m in lesions if _is_nodule(m)]
    priors = {m.lesion_id: _with_type(m) for m in previous if _is_nodule(m)}
    if age is None or not nodules:
        return None
    patient = FleischnerPatient(
        age=age,
        high_risk=context.high_risk,
        known_cancer=context.known_cancer,
        screening=context.screening,
    )
    return fleischner(nodules, patient, exam_date, priors)


def _series(
    baseline: RecistBaseline,
    dates: Sequence[date],
    per_scan: Sequence[tuple[LesionMeasurement, ...]],
    context: GuidelineContext,
    leave_out: frozenset[str],
) -> RecistSeries:
    equivocal = set(context.equivocal_new_lesions)
    follow_ups = [
        follow_up_from_tracked(
            baseline,
            dates[t],
            [
                replace(m, equivocal=True) if (m.lesion_id, dates[t]) in equivocal else m
                for m in per_scan[t]
                if m.lesion_id not in leave_out
            ],
        )
        for t in range(1, len(dates))
    ]
    return assess_series(baseline, follow_ups, RecistOptions(immunotherapy=context.immunotherapy))


def _recist(
    dates: Sequence[date],
    per_scan: Sequence[tuple[LesionMeasurement, ...]],
    context: GuidelineContext,
    thickness: float,
    assessments: list[ScanAssessment],
) -> dict[str, Any]:
    baseline = select_targets(
        list(per_scan[0]),
        dates[0],
        slice_thickness_mm=thickness,
        chosen_target_ids=context.chosen_target_ids,
    )
    rejected = frozenset(context.rejected_new_lesions)
    unconfirmed = frozenset(context.unconfirmed_new_lesions) - rejected
    series = _series(baseline, dates, per_scan, context, rejected | unconfirmed)
    with_all = _series(baseline, dates, per_scan, context, rejected) if unconfirmed else series
    for i, tp in enumerate(series.timepoints, start=1):
        old = assessments[i]
        assessments[i] = ScanAssessment(
            old.exam_date,
            old.series_instance_uid,
            old.lesions,
            old.lung_rads,
            old.fleischner,
            tp.as_result(),
            old.notes,
            old.lung_rads_nodules,
        )
    seen: set[str] = set()
    timepoints = []
    for t, (tp, tp_all) in enumerate(zip(series.timepoints, with_all.timepoints, strict=True), 1):
        seen |= {m.lesion_id for m in per_scan[t] if m.lesion_id in unconfirmed}
        timepoints.append(
            {
                "date": tp.exam_date.isoformat(),
                "category": tp.category,
                "category_with_unconfirmed": tp_all.category,
                "unconfirmed_new_lesion_ids": sorted(seen),
                "sum_mm": tp.target.sum_mm if tp.target else None,
                "nadir_sum_mm": tp.nadir_sum_mm,
                "change_from_baseline_pct": tp.target.change_from_baseline_pct
                if tp.target
                else None,
                "target": tp.target.response.value if tp.target else None,
                "non_target": tp.non_target.value,
                "new_lesions": tp.new_lesions,
                "volume_change_from_baseline_pct": tp.volume_change_from_baseline_pct,
                "new_lesion_ids": [m.lesion_id for m in tp.new_lesion_measurements],
                "equivocal_new_lesion_ids": list(tp.equivocal_new_lesion_ids),
                "progression_dated_from": None
                if tp.progression_dated_from is None
                else tp.progression_dated_from.isoformat(),
                "notes": list(tp.notes),
                "rule": tp.as_result().rule_fired,
            }
        )
    return {
        "guideline": "iRECIST" if context.immunotherapy else "RECIST 1.1",
        "baseline_date": dates[0].isoformat(),
        "slice_thickness_mm": thickness,
        "targets": [_lesion_dict(m) for m in baseline.targets],
        "non_targets": [_lesion_dict(m) for m in baseline.non_targets],
        "baseline_sum_mm": baseline.baseline_sum,
        "selection_notes": list(baseline.notes),
        "timepoints": timepoints,
        "best_overall_response": series.best_overall_response,
        "best_response_rule": series.best_response_reason,
        "best_overall_response_with_unconfirmed": with_all.best_overall_response,
        "unconfirmed_new_lesion_ids": sorted(unconfirmed),
        "rejected_new_lesion_ids": sorted(rejected),
    }


def _lesion_dict(m: LesionMeasurement) -> dict[str, Any]:
    return {
        "tracking_identifier": m.lesion_id,
        "tracking_uid": m.tracking_uid,
        "organ": m.organ,
        "is_lymph_node": m.is_lymph_node,
        "long_axis_mm": m.long_axis_mm,
        "short_axis_mm": m.short_axis_mm,
        **m.provenance_dict(),
    }
