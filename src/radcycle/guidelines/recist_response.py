"""RECIST 1.1 at one follow-up exam: target, non-target, new lesions, overall response.

Sections 4.3 and 4.4.1 of Eisenhauer et al., Eur J Cancer 2009;45:228-247. Pure
functions; the baseline comes from :mod:`radcycle.guidelines.recist`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from radcycle.domain.findings import LesionMeasurement, LesionStatus
from radcycle.errors import InputError
from radcycle.guidelines.recist import (
    GUIDELINE,
    NODE_PATHOLOGICAL_MM,
    PD_ABSOLUTE_MM,
    PD_CHANGE_PCT,
    PR_CHANGE_PCT,
    TOLERANCE,
    RecistBaseline,
    combine_fragments,
    lesion_diameter,
    percent_change,
    volume_sum,
)
from radcycle.guidelines.results import GuidelineResult

__all__ = [
    "NonTargetResponse",
    "OverallResponse",
    "RecistFollowUp",
    "TargetAssessment",
    "TargetResponse",
    "TimepointAssessment",
    "assess_timepoint",
    "follow_up_from_tracked",
    "new_lesion_present",
    "non_target_response",
    "overall_response",
    "target_response",
]


class TargetResponse(StrEnum):
    """Response of the target lesions (section 4.3.1)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"


class NonTargetResponse(StrEnum):
    """Response of the non-target lesions (section 4.3.3)."""

    CR = "CR"
    NON_CR_NON_PD = "Non-CR/Non-PD"
    PD = "PD"
    NE = "NE"
    NONE = "none at baseline"


class OverallResponse(StrEnum):
    """Time-point response (section 4.4.1, Tables 1 and 2)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    NON_CR_NON_PD = "Non-CR/Non-PD"
    PD = "PD"
    NE = "NE"
    NED = "no evidence of disease"


@dataclass(frozen=True)
class RecistFollowUp:
    """One follow-up exam, with lesions matched to baseline by ``lesion_id``.

    Args:
        exam_date: date of the exam.
        lesions: this exam's measurements of the baseline targets and non-targets;
            a baseline lesion missing here is "not evaluated". Fragments of a
            lesion that split (``split_from``) are added to it (section 4.3.2).
        new_lesions: new lesions (section 4.3.5); new nodes with a short axis
            < 10 mm are normal and are not counted, nor are ``equivocal`` ones
            until a later exam shows them unequivocally.
        unequivocal_non_target_progression: the radiologist's judgement of
            unequivocal progression of non-target disease (section 4.3.4).
        non_target_increase_since_last: the reader sees non-target disease
            increased since the previous exam (iRECIST: after iUPD this need not
            be unequivocal progression; Seymour et al. 2017, Table 2).
        new_non_target_increase: the reader sees new non-measurable lesions
            increased since the previous exam (iRECIST: "any increase" in new
            lesion non-targets confirms iCPD; Seymour et al. 2017, Table 2).
        new_symptom_or_sign: the exam was done to investigate a new clinical
            symptom or sign (iRECIST FAQ: a scan less than 4 weeks after iUPD may
            confirm iCPD only then, by an additional new lesion); None if unknown.
    """

    exam_date: date
    lesions: tuple[LesionMeasurement, ...] = ()
    new_lesions: tuple[LesionMeasurement, ...] = ()
    unequivocal_non_target_progression: bool = False
    non_target_increase_since_last: bool = False
    new_non_target_increase: bool = False
    new_symptom_or_sign: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "lesions", tuple(self.lesions))
        object.__setattr__(self, "new_lesions", tuple(self.new_lesions))
        ids = [m.lesion_id for m in self.lesions]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise InputError(f"lesion_id appears twice on {self.exam_date}", value=duplicates)


def follow_up_from_tracked(
    baseline: RecistBaseline,
    exam_date: date,
    lesions: Iterable[LesionMeasurement],
    *,
    unequivocal_non_target_progression: bool = False,
    non_target_increase_since_last: bool = False,
    new_non_target_increase: bool = False,
) -> RecistFollowUp:
    """Build a follow-up from every lesion tracked on one exam.

    Lesions whose ``lesion_id`` (TrackingIdentifier) is a baseline target or
    non-target are matched to it; lesions recorded at baseline but not followed
    are ignored; a fragment whose ``split_from`` is followed goes with it; every
    other lesion is a candidate new lesion (counted as new by
    :func:`new_lesion_present`, so a new node < 10 mm short axis is not, nor an
    equivocal one).

    Example:
        >>> from radcycle.guidelines.recist import select_targets
        >>> b = select_targets([LesionMeasurement(lesion_id="a", long_axis_mm=20.0)],
        ...                    date(2025, 1, 1))
        >>> f = follow_up_from_tracked(b, date(2025, 3, 1), [
        ...     LesionMeasurement(lesion_id="a", long_axis_mm=18.0),
        ...     LesionMeasurement(lesion_id="b", long_axis_mm=7.0)])
        >>> [m.lesion_id for m in f.lesions], [m.lesion_id for m in f.new_lesions]
        (['a'], ['b'])
    """
    followed = {m.lesion_id for m in (*baseline.targets, *baseline.non_targets)}
    ignored = {m.lesion_id for m in baseline.excluded}
    matched, new = [], []
    for lesion in lesions:
        if lesion.lesion_id in followed or lesion.split_from in followed:
            matched.append(lesion)
        elif lesion.lesion_id not in ignored:
            new.append(lesion)
    return RecistFollowUp(
        exam_date,
        tuple(matched),
        tuple(new),
        unequivocal_non_target_progression=unequivocal_non_target_progression,
        non_target_increase_since_last=non_target_increase_since_last,
        new_non_target_increase=new_non_target_increase,
    )


@dataclass(frozen=True)
class TargetAssessment:
    """Target-lesion response at one exam, with the numbers behind it."""

    response: TargetResponse
    sum_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    change_from_nadir_mm: float | None
    reason: str


def _is_complete_response(targets: Sequence[LesionMeasurement]) -> bool:
    # Section 4.3.1: CR = non-nodal targets gone and every target node < 10 mm.
    for lesion in targets:
        value = lesion_diameter(lesion)
        if value is None:
            return False
        if lesion.is_lymph_node:
            if value >= NODE_PATHOLOGICAL_MM - TOLERANCE:
                return False
        elif lesion.status is not LesionStatus.DISAPPEARED and value > 0:
            return False
    return True


# RECIST 1.1 questions and clarifications (RECIST working group, "Does a new lesion
# always result in PD?"): lesions that disappear and reappear are PD when "CR
# (overall) was definitively assigned at the previous assessment"; the question it
# answers counts a target node back at >= 10 mm short axis as reappeared.
REAPPEARANCE_SOURCE = "RECIST 1.1 working group clarification on lesions that reappear"


def _reappeared(lesions: Sequence[LesionMeasurement]) -> list[str]:
    # After an overall CR every non-nodal lesion was gone and every node < 10 mm.
    back = []
    for m in lesions:
        if m.status is LesionStatus.NOT_EVALUATED:
            continue
        size = lesion_diameter(m)
        if m.is_lymph_node:
            returned = size is not None and size >= NODE_PATHOLOGICAL_MM - TOLERANCE
            returned = returned or (m.status is LesionStatus.PRESENT)
        else:
            returned = m.status is LesionStatus.PRESENT or (size or 0.0) > TOLERANCE
        if returned:
            back.append(m.lesion_id)
    return back


def _meets_pd(current: float, nadir: float) -> bool:
    # Section 4.3.1: PD = +20 % over the nadir AND +5 mm absolute.
    increase = current - nadir
    relative = increase >= PD_CHANGE_PCT / 100.0 * nadir - TOLERANCE
    return relative and increase >= PD_ABSOLUTE_MM - TOLERANCE


def target_response(
    current: Sequence[LesionMeasurement],
    baseline_sum: float,
    nadir_sum: float,
    *,
    after_complete_response: bool = False,
) -> TargetAssessment:
    """Target response at one exam (RECIST 1.1 sections 4.3.1, 4.3.2, 4.4.2).

    Args:
        current: this exam's measurements of every baseline target, in any order;
            an unmeasured target has status ``not evaluated``.
        baseline_sum: baseline sum of diameters (PR reference).
        nadir_sum: smallest sum on study before this exam, baseline included
            (PD reference).
        after_complete_response: the overall response at the last evaluated
            exam was CR; a target seen again is then PD (see below).

    A missing measurement gives NE, unless the lesions measured already add up
    to PD (section 4.4.2). CR needs every non-nodal target gone and every target
    node < 10 mm short axis, even though the sum of such nodes is not zero.

    A target that reappears after an overall complete response is PD, whatever
    the sum: "lesions that disappear and reappear do not automatically result in
    PD unless ... CR (overall) was definitively assigned at the previous
    assessment" (RECIST 1.1 working group clarifications). A non-nodal target
    reappears when it has any diameter again; a target node when its short axis
    is >= 10 mm again. After PR or SD a reappeared lesion only enters the sum.

    Example:
        >>> t = [LesionMeasurement(lesion_id="a", long_axis_mm=70.0)]
        >>> target_response(t, baseline_sum=100.0, nadir_sum=100.0).response.value
        'PR'
    """
    values = [lesion_diameter(m) for m in current]
    known = sum(v for v in values if v is not None)
    missing = [m.lesion_id for m, v in zip(current, values, strict=True) if v is None]
    nadir_mm = known - nadir_sum
    if missing:
        if _meets_pd(known, nadir_sum):
            return TargetAssessment(
                TargetResponse.PD, None, None, None, nadir_mm,
                f"targets measured already {nadir_mm:+.1f} mm over nadir {nadir_sum:.1f} mm "
                f"(>= +20 % and >= +5 mm) although {', '.join(missing)} not evaluated "
                "(RECIST 1.1 section 4.4.2)",
            )  # fmt: skip
        return TargetAssessment(
            TargetResponse.NE, None, None, None, None,
            f"target(s) {', '.join(missing)} not evaluated (RECIST 1.1 section 4.4.2)",
        )  # fmt: skip
    from_baseline = percent_change(known, baseline_sum)
    from_nadir = percent_change(known, nadir_sum)
    back = _reappeared(current) if after_complete_response else []
    if back:
        reason = (
            f"target(s) {', '.join(back)} reappeared after complete response -> PD "
            f"({REAPPEARANCE_SOURCE})"
        )
        return TargetAssessment(
            TargetResponse.PD, known, from_baseline, from_nadir, nadir_mm, reason
        )
    response, reason = _classify_targets(current, known, baseline_sum, nadir_sum)
    return TargetAssessment(response, known, from_baseline, from_nadir, nadir_mm, reason)


def _classify_targets(
    current: Sequence[LesionMeasurement], total: float, baseline_sum: float, nadir_sum: float
) -> tuple[TargetResponse, str]:
    if current and _is_complete_response(current):
        return TargetResponse.CR, (
            "all non-nodal targets disappeared and all target nodes < 10 mm short axis "
            "(RECIST 1.1 section 4.3.1)"
        )
    increase = total - nadir_sum
    if _meets_pd(total, nadir_sum):
        return TargetResponse.PD, (
            f"sum {total:.1f} mm is {increase:+.1f} mm over nadir {nadir_sum:.1f} mm: "
            ">= +20 % and >= +5 mm (RECIST 1.1 section 4.3.1)"
        )
    if total - baseline_sum <= PR_CHANGE_PCT / 100.0 * baseline_sum + TOLERANCE:
        change = percent_change(total, baseline_sum)
        return TargetResponse.PR, (
            f"sum {total:.1f} mm is {change:+.1f} % from baseline {baseline_sum:.1f} mm: "
            "decrease >= 30 % (RECIST 1.1 section 4.3.1)"
        )
    return TargetResponse.SD, (
        f"sum {total:.1f} mm (baseline {baseline_sum:.1f}, nadir {nadir_sum:.1f}): "
        "neither -30 % from baseline nor +20 % and +5 mm over nadir (RECIST 1.1 section 4.3.1)"
    )


def non_target_response(
    current: Sequence[LesionMeasurement],
    *,
    unequivocal_progression: bool = False,
    after_complete_response: bool = False,
) -> NonTargetResponse:
    """Non-target response at one exam (RECIST 1.1 sections 4.3.3 and 4.3.4).

    Args:
        current: this exam's record of every baseline non-target lesion.
        unequivocal_progression: the radiologist's call (a manual input).
        after_complete_response: the overall response at the last evaluated exam
            was CR; a non-target seen again (a node at >= 10 mm) is then PD.

    PD by the radiologist's unequivocal progression, or by a non-target that
    reappears after an overall CR (RECIST 1.1 working group clarification); NE
    when any is not evaluated; CR when all are gone and every node < 10 mm short
    axis; else Non-CR/Non-PD.

    Example:
        >>> gone = LesionMeasurement(lesion_id="n", status="disappeared")
        >>> non_target_response([gone]).value
        'CR'
    """
    if unequivocal_progression:
        return NonTargetResponse.PD
    if after_complete_response and _reappeared(current):
        return NonTargetResponse.PD
    if not current:
        return NonTargetResponse.NONE
    if any(m.status is LesionStatus.NOT_EVALUATED for m in current):
        return NonTargetResponse.NE
    if all(_non_target_resolved(m) for m in current):
        return NonTargetResponse.CR
    return NonTargetResponse.NON_CR_NON_PD


def _non_target_resolved(lesion: LesionMeasurement) -> bool:
    if lesion.status is LesionStatus.DISAPPEARED:
        return True
    if lesion.is_lymph_node and lesion.status is LesionStatus.MEASURED:
        short = lesion.short_axis_mm
        return short is not None and short < NODE_PATHOLOGICAL_MM - TOLERANCE
    return False


def new_lesion_present(new_lesions: Iterable[LesionMeasurement]) -> bool:
    """Whether any unequivocal new lesion is present (section 4.3.5).

    A new node with a measured short axis < 10 mm is normal and does not count;
    nor does an equivocal lesion ("if a new lesion is equivocal ... continued
    therapy and follow-up evaluation will clarify if it represents truly new
    disease").
    """
    for lesion in new_lesions:
        if lesion.status in (LesionStatus.DISAPPEARED, LesionStatus.NOT_EVALUATED):
            continue
        if lesion.equivocal:
            continue
        short = lesion.short_axis_mm
        if lesion.is_lymph_node and short is not None and short < NODE_PATHOLOGICAL_MM - TOLERANCE:
            continue
        return True
    return False


# Section 4.4.1, Table 1 (targets with or without non-targets): rows in the paper's
# order; None matches any value. The first matching row wins.
_T, _N, _O = TargetResponse, NonTargetResponse, OverallResponse
_TABLE_1: tuple[
    tuple[TargetResponse | None, NonTargetResponse | None, bool | None, OverallResponse], ...
] = (
    (_T.PD, None, None, _O.PD),
    (None, _N.PD, None, _O.PD),
    (None, None, True, _O.PD),
    (_T.CR, _N.CR, False, _O.CR),
    (_T.CR, _N.NONE, False, _O.CR),
    (_T.CR, _N.NON_CR_NON_PD, False, _O.PR),
    (_T.CR, _N.NE, False, _O.PR),
    (_T.PR, None, False, _O.PR),
    (_T.SD, None, False, _O.SD),
    (_T.NE, None, False, _O.NE),
)
# Section 4.4.1, Table 2 (non-target disease only).
_TABLE_2: tuple[tuple[NonTargetResponse | None, bool | None, OverallResponse], ...] = (
    (_N.PD, None, _O.PD),
    (None, True, _O.PD),
    (_N.CR, False, _O.CR),
    (_N.NON_CR_NON_PD, False, _O.NON_CR_NON_PD),
    (_N.NE, False, _O.NE),
    (_N.NONE, False, _O.NED),
)


def overall_response(
    target: TargetResponse | None, non_target: NonTargetResponse, new_lesions: bool
) -> OverallResponse:
    """Time-point response from the three categories (section 4.4.1, Tables 1 and 2).

    ``target`` is None for a patient with non-target disease only (Table 2).

    Example:
        >>> overall_response(TargetResponse.CR, NonTargetResponse.NON_CR_NON_PD, False).value
        'PR'
    """
    if target is None:
        for nt, new, result in _TABLE_2:
            if nt in (None, non_target) and new in (None, new_lesions):
                return result
    else:
        for tr, nt2, new, result in _TABLE_1:
            if tr in (None, target) and nt2 in (None, non_target) and new in (None, new_lesions):
                return result
    raise InputError("no RECIST 1.1 table row matches", value=(target, non_target, new_lesions))


@dataclass(frozen=True)
class TimepointAssessment:
    """RECIST 1.1 at one follow-up exam, with everything a report cites.

    ``response`` is the RECIST 1.1 time-point response; ``irecist`` is filled by
    :func:`radcycle.guidelines.irecist.apply_irecist` for immunotherapy.
    ``target_measurements`` are the targets as used at this exam (in baseline
    order; a missing one appears with status ``not evaluated``). The new-lesion
    count and sum cover the new lesions that count (section 4.3.5), kept in
    ``new_lesion_measurements``; ``equivocal_new_lesion_ids`` are those not yet
    counted. ``progression_dated_from`` is the exam where a new lesion now
    unequivocal was first seen as equivocal: "progression should be declared
    using the date of the initial scan" (section 4.3.5).
    """

    exam_date: date
    target: TargetAssessment | None
    non_target: NonTargetResponse
    new_lesions: bool
    response: OverallResponse
    nadir_sum_mm: float | None
    new_lesion_count: int = 0
    new_lesion_sum_mm: float = 0.0
    volume_sum_mm3: float | None = None
    volume_change_from_baseline_pct: float | None = None
    non_target_increase_since_last: bool = False
    target_measurements: tuple[LesionMeasurement, ...] = ()
    new_lesion_measurements: tuple[LesionMeasurement, ...] = ()
    equivocal_new_lesion_ids: tuple[str, ...] = ()
    new_non_target_increase: bool = False
    new_symptom_or_sign: bool | None = None
    progression_dated_from: date | None = None
    irecist: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def category(self) -> str:
        """The response to report: iRECIST where applied, else RECIST 1.1."""
        return self.irecist or self.response.value

    def as_result(self) -> GuidelineResult:
        """This assessment as a citable :class:`GuidelineResult`."""
        guideline = "iRECIST" if self.irecist else GUIDELINE
        reason = self.target.reason if self.target else "non-target disease only (Table 2)"
        rule = (
            f"target {self.target.response.value if self.target else 'none'}, non-target "
            f"{self.non_target.value}, new lesions {'yes' if self.new_lesions else 'no'} -> "
            f"{self.category} (RECIST 1.1 section 4.4.1, "
            f"{'Table 1' if self.target else 'Table 2'}); {reason}"
        )
        inputs: dict[str, object] = {
            "exam_date": self.exam_date,
            "sum_mm": self.target.sum_mm if self.target else None,
            "nadir_sum_mm": self.nadir_sum_mm,
            "change_from_baseline_pct": self.target.change_from_baseline_pct
            if self.target
            else None,
            "volume_change_from_baseline_pct": self.volume_change_from_baseline_pct,
        }
        return GuidelineResult(
            guideline=guideline,
            category=self.category,
            recommendation="response assessment; management per treating team",
            rule_fired=rule,
            inputs=inputs,
        )


def assess_timepoint(
    baseline: RecistBaseline,
    follow_up: RecistFollowUp,
    nadir_sum: float | None,
    *,
    after_complete_response: bool = False,
) -> TimepointAssessment:
    """RECIST 1.1 at one follow-up, given the nadir before it.

    Baseline lesions absent from ``follow_up.lesions`` count as not evaluated;
    fragments are added to the lesion they split from. ``after_complete_response``:
    the overall response at the last evaluated exam was CR (see
    :func:`target_response`).
    """
    seen = {m.lesion_id: m for m in combine_fragments(follow_up.lesions)}
    targets = [_current(seen, t) for t in baseline.targets]
    non_targets = [_current(seen, n) for n in baseline.non_targets]
    target: TargetAssessment | None = None
    if baseline.targets:
        base = baseline.baseline_sum or 0.0
        nadir = base if nadir_sum is None else nadir_sum
        target = target_response(
            targets, base, nadir, after_complete_response=after_complete_response
        )
    non_target = non_target_response(
        non_targets,
        unequivocal_progression=follow_up.unequivocal_non_target_progression,
        after_complete_response=after_complete_response,
    )
    counted_new = [m for m in follow_up.new_lesions if new_lesion_present([m])]
    new = bool(counted_new)
    response = overall_response(target.response if target else None, non_target, new)
    volume = volume_sum(targets)
    base_volume = baseline.baseline_volume
    volume_change = (
        percent_change(volume, base_volume)
        if volume is not None and base_volume is not None
        else None
    )
    return TimepointAssessment(
        exam_date=follow_up.exam_date,
        target=target,
        non_target=non_target,
        new_lesions=new,
        response=response,
        nadir_sum_mm=nadir_sum,
        new_lesion_count=len(counted_new),
        new_lesion_sum_mm=sum(lesion_diameter(m) or 0.0 for m in counted_new),
        volume_sum_mm3=volume,
        volume_change_from_baseline_pct=volume_change,
        non_target_increase_since_last=follow_up.non_target_increase_since_last,
        target_measurements=tuple(targets),
        new_lesion_measurements=tuple(counted_new),
        equivocal_new_lesion_ids=tuple(m.lesion_id for m in follow_up.new_lesions if m.equivocal),
        new_non_target_increase=follow_up.new_non_target_increase,
        new_symptom_or_sign=follow_up.new_symptom_or_sign,
    )


def _current(
    seen: Mapping[str, LesionMeasurement], at_baseline: LesionMeasurement
) -> LesionMeasurement:
    found = seen.get(at_baseline.lesion_id)
    if found is not None:
        if found.is_lymph_node != at_baseline.is_lymph_node:
            raise InputError(f"{found.lesion_id}: node flag differs from baseline")
        return found
    return LesionMeasurement(
        lesion_id=at_baseline.lesion_id,
        organ=at_baseline.organ,
        is_lymph_node=at_baseline.is_lymph_node,
        status=LesionStatus.NOT_EVALUATED,
    )
