"""RECIST 1.1 over a whole course of treatment: nadir, time points, best overall response.

:func:`assess_series` runs :func:`~radcycle.guidelines.recist_response.assess_timepoint`
on each follow-up in date order, keeping the nadir (the smallest sum on study,
baseline included; RECIST 1.1 section 4.3.1), then derives the best overall response
(section 4.4.3), with confirmation of CR/PR at >= 4 weeks where the protocol asks for
it (Table 3), and iRECIST when the treatment is immunotherapy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from radcycle.errors import InputError
from radcycle.guidelines.irecist import IResponse, apply_irecist
from radcycle.guidelines.recist import GUIDELINE, RecistBaseline
from radcycle.guidelines.recist_response import (
    OverallResponse,
    RecistFollowUp,
    TimepointAssessment,
    assess_timepoint,
)
from radcycle.guidelines.results import GuidelineResult

__all__ = ["RecistOptions", "RecistSeries", "assess_series", "best_overall_response"]

# Section 4.4.3 / 4.6: confirmation of CR and PR no less than 4 weeks later.
CONFIRMATION_DAYS = 28


@dataclass(frozen=True)
class RecistOptions:
    """Protocol choices for a RECIST 1.1 assessment.

    Args:
        immunotherapy: apply iRECIST (iUPD / iCPD) on top of RECIST 1.1.
        confirmation_required: CR and PR need a confirming exam >= ``confirmation_days``
            later (section 4.4.3, Table 3; for trials where response is the endpoint).
        confirmation_days: minimum days between response and confirmation.
        min_sd_days: minimum days from baseline for SD to count as best response
            (the protocol's minimum SD duration; section 4.4.3).
    """

    immunotherapy: bool = False
    confirmation_required: bool = False
    confirmation_days: int = CONFIRMATION_DAYS
    min_sd_days: int = 0


@dataclass(frozen=True)
class RecistSeries:
    """Every time point of a course, and the best overall response."""

    baseline: RecistBaseline
    timepoints: tuple[TimepointAssessment, ...]
    best_overall_response: str
    best_response_reason: str
    options: RecistOptions

    def best_response_result(self) -> GuidelineResult:
        """The best overall response as a citable :class:`GuidelineResult`."""
        guideline = "iRECIST" if self.options.immunotherapy else GUIDELINE
        return GuidelineResult(
            guideline=guideline,
            category=self.best_overall_response,
            recommendation="best overall response; management per treating team",
            rule_fired=self.best_response_reason,
            inputs={
                "baseline_date": self.baseline.exam_date,
                "timepoints": [tp.category for tp in self.timepoints],
                "confirmation_required": self.options.confirmation_required,
            },
        )


def assess_series(
    baseline: RecistBaseline,
    follow_ups: Sequence[RecistFollowUp],
    options: RecistOptions | None = None,
) -> RecistSeries:
    """RECIST 1.1 (and iRECIST) at every follow-up, plus the best overall response.

    Follow-ups are taken in date order; each must be after the baseline. The nadir
    before each exam is the smallest known sum so far, baseline included.

    Example:
        >>> from radcycle.domain import LesionMeasurement as M
        >>> from radcycle.guidelines.recist import select_targets
        >>> b = select_targets([M(lesion_id="a", organ="lung", long_axis_mm=40.0)],
        ...                    date(2025, 1, 1))
        >>> f = [RecistFollowUp(date(2025, 3, 1), (M(lesion_id="a", long_axis_mm=26.0),))]
        >>> assess_series(b, f).best_overall_response
        'PR'
    """
    options = options or RecistOptions()
    ordered = sorted(follow_ups, key=lambda f: f.exam_date)
    for follow_up in ordered:
        if follow_up.exam_date <= baseline.exam_date:
            raise InputError(
                "a follow-up must be dated after the baseline",
                value=(baseline.exam_date.isoformat(), follow_up.exam_date.isoformat()),
            )
    timepoints: list[TimepointAssessment] = []
    nadir = baseline.baseline_sum
    in_cr = False
    equivocal_since: dict[str, date] = {}
    for follow_up in ordered:
        tp = assess_timepoint(baseline, follow_up, nadir, after_complete_response=in_cr)
        tp = _date_equivocal(tp, equivocal_since)
        timepoints.append(tp)
        current = tp.target.sum_mm if tp.target else None
        if current is not None and nadir is not None:
            nadir = min(nadir, current)
        if tp.response is not OverallResponse.NE:
            in_cr = tp.response is OverallResponse.CR
    if options.immunotherapy:
        timepoints = apply_irecist(timepoints)
    best, reason = best_overall_response(baseline.exam_date, timepoints, options)
    return RecistSeries(baseline, tuple(timepoints), best, reason, options)


def _date_equivocal(tp: TimepointAssessment, since: dict[str, date]) -> TimepointAssessment:
    """Date progression from the first equivocal sighting of a now-counted new lesion.

    RECIST 1.1 section 4.3.5: "If repeat scans confirm there is definitely a new
    lesion, then progression should be declared using the date of the initial
    scan." ``since`` (lesion_id -> first equivocal exam) is updated in place.
    """
    for lesion_id in tp.equivocal_new_lesion_ids:
        since.setdefault(lesion_id, tp.exam_date)
    earlier = [since[m.lesion_id] for m in tp.new_lesion_measurements if m.lesion_id in since]
    if not earlier or tp.response is not OverallResponse.PD:
        return tp
    first = min(earlier)
    note = (
        f"new lesion first seen equivocal on {first.isoformat()}, now unequivocal: "
        "progression dated from that scan (RECIST 1.1 section 4.3.5)"
    )
    return replace(tp, progression_dated_from=first, notes=(*tp.notes, note))


# Section 4.4.3: best response order, best first.
# Non-CR/Non-PD (non-target disease only, Table 2) ranks with SD.
_PLAIN_RANK = ("CR", "PR", "SD", "Non-CR/Non-PD", "PD", "NE")
_I_RANK = ("iCR", "iPR", "iSD", "non-iCR/non-iUPD", "iCPD", "iUPD", "NE")


def best_overall_response(
    baseline_date: date, timepoints: Sequence[TimepointAssessment], options: RecistOptions
) -> tuple[str, str]:
    """Best overall response and the reason, from time points in date order.

    Only time points up to the first progression count (the first PD; for iRECIST
    the first iCPD). With confirmation required, a CR needs a later CR and a PR a
    later PR or CR at least ``confirmation_days`` later; an unconfirmed one counts
    as SD (Table 3). SD (and Non-CR/Non-PD) must be at least ``min_sd_days`` after
    baseline to count.
    """
    if not timepoints:
        return "NE", "no follow-up exam (RECIST 1.1 section 4.4.3)"
    immuno = options.immunotherapy
    stop = IResponse.ICPD.value if immuno else OverallResponse.PD.value
    counted: list[TimepointAssessment] = []
    for tp in timepoints:
        counted.append(tp)
        if tp.category == stop:
            break
    if all(tp.response is OverallResponse.NED for tp in counted):
        return OverallResponse.NED.value, "no disease at baseline or since (section 4.4.3)"
    labels = [_effective(i, counted, baseline_date, options) for i in range(len(counted))]
    rank = _I_RANK if immuno else _PLAIN_RANK
    best = min(labels, key=rank.index)
    rule = (
        "confirmed at >= 4 weeks, Table 3" if options.confirmation_required else "no confirmation"
    )
    scheme = "iRECIST" if immuno else "RECIST 1.1 section 4.4.3"
    sequence = ", ".join(tp.category for tp in counted)
    return best, f"best of [{sequence}] -> {best} ({scheme}; {rule})"


def _effective(
    i: int, tps: Sequence[TimepointAssessment], baseline_date: date, options: RecistOptions
) -> str:
    """The label time point ``i`` contributes to the best response."""
    immuno = options.immunotherapy
    label = tps[i].category
    cr, pr, sd = ("iCR", "iPR", "iSD") if immuno else ("CR", "PR", "SD")
    if label == OverallResponse.NED.value:
        return "NE"
    if label in (cr, pr) and options.confirmation_required:
        accept = (cr,) if label == cr else (cr, pr)
        if not _confirmed(i, tps, accept, options.confirmation_days):
            label = sd
    stable = (sd, OverallResponse.NON_CR_NON_PD.value, IResponse.INN.value)
    if label in stable and (tps[i].exam_date - baseline_date).days < options.min_sd_days:
        return "NE"
    return label


def _confirmed(
    i: int, tps: Sequence[TimepointAssessment], accept: tuple[str, ...], days: int
) -> bool:
    start = tps[i].exam_date
    return any(tp.category in accept and (tp.exam_date - start).days >= days for tp in tps[i + 1 :])
