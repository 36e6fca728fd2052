"""iRECIST (Seymour et al., Lancet Oncol 2017;18:e143-e152) on top of RECIST 1.1.

Under immunotherapy a tumour may grow before it shrinks (pseudoprogression), so
the first RECIST 1.1 progression is only *unconfirmed* (iUPD). A later exam
either confirms it (iCPD) or, if RECIST 1.1 no longer shows progression, resets
the status, and a later progression is again only iUPD.

The rules encoded (Seymour et al. 2017, section "Confirming progression" and
Table 2; iRECIST FAQ on the confirmation window):

* first PD, or the first PD after a reset -> **iUPD**; that exam is the reference
  ("iCPD is confirmed ... if there is a further increase in tumour burden, compared
  with the iUPD time point"): every later increase is measured from it, so small
  increases add up over several exams;
* at a later exam that is still PD, **iCPD** when, compared with the iUPD exam:
  the target sum rose >= 5 mm further (targets were iUPD); or the reader saw
  non-target disease increase at any exam since (non-targets were iUPD; it need
  not be unequivocal); or a category that was not progressing at iUPD now meets
  RECIST 1.1 progression (a first new lesion, a target sum at PD); or, where new
  lesions were present at iUPD, another new lesion appeared, the sum of the new
  lesion targets (measurable new lesions, at most 5 and 2 per organ, chosen at
  iUPD by the RECIST 1.1 rules) rose >= 5 mm, or any new non-target lesion
  increased (measured larger than at iUPD, or the reader's call);
* window (iRECIST FAQ): the confirming exam is 4 to 8 weeks after iUPD, with the
  recommended variance of 2 days (26 to 58 days). "Scans done prior to 4 weeks
  after 1st iUPD ... should not be used to define iCPD UNLESS the scans were also
  performed to investigate a new clinical symptom or sign AND an (additional) new
  lesion is identified": an earlier exam confirms only by a new lesion (a first
  one or another one), and not at all when ``new_symptom_or_sign`` is False (None,
  unknown, lets the new lesion confirm). An exam later than 58 days still
  confirms, with a note that it is outside the window (our reading: a late scan
  is still the next assessment);
* still PD without any of these -> remains **iUPD** (still compared with the iUPD exam);
* NE after iUPD -> NE, and the iUPD stays pending;
* no PD -> the RECIST 1.1 response with an ``i`` prefix (iCR, iPR, iSD,
  non-iCR/non-iUPD), and the pending iUPD is reset.

Not encoded: clinical stability (an input for the treating team, not imaging).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from radcycle.guidelines.recist import lesion_diameter, select_targets
from radcycle.guidelines.recist_response import (
    NonTargetResponse,
    OverallResponse,
    TargetResponse,
    TimepointAssessment,
)

__all__ = ["IResponse", "apply_irecist", "progressing_categories"]

# iRECIST: confirmation of progression needs a further increase of >= 5 mm.
ICPD_FURTHER_INCREASE_MM = 5.0
# iRECIST FAQ: the confirming assessment is 4 to 8 weeks after iUPD, "with a
# protocol defined variance permitted of a recommended +/- 2 days".
CONFIRM_VARIANCE_DAYS = 2
CONFIRM_MIN_DAYS = 28 - CONFIRM_VARIANCE_DAYS
CONFIRM_MAX_DAYS = 56 + CONFIRM_VARIANCE_DAYS
_EPS = 1e-9


class IResponse(StrEnum):
    """iRECIST time-point responses."""

    ICR = "iCR"
    IPR = "iPR"
    ISD = "iSD"
    INN = "non-iCR/non-iUPD"
    IUPD = "iUPD"
    ICPD = "iCPD"
    NE = "NE"
    NED = "no evidence of disease"


_PLAIN_TO_I = {
    OverallResponse.CR: IResponse.ICR,
    OverallResponse.PR: IResponse.IPR,
    OverallResponse.SD: IResponse.ISD,
    OverallResponse.NON_CR_NON_PD: IResponse.INN,
    OverallResponse.NE: IResponse.NE,
    OverallResponse.NED: IResponse.NED,
}


def progressing_categories(tp: TimepointAssessment) -> frozenset[str]:
    """Which RECIST 1.1 categories show progression at this exam."""
    found = set()
    if tp.target is not None and tp.target.response is TargetResponse.PD:
        found.add("target")
    if tp.non_target is NonTargetResponse.PD:
        found.add("non-target")
    if tp.new_lesions:
        found.add("new lesions")
    return frozenset(found)


@dataclass
class _Pending:
    """An unconfirmed progression: the iUPD exam and what was seen since."""

    iupd: TimepointAssessment
    new_targets: tuple[str, ...]
    non_target_increase: bool = False
    new_non_target_increase: bool = False

    @classmethod
    def start(cls, tp: TimepointAssessment) -> _Pending:
        measurable = select_targets(tp.new_lesion_measurements, tp.exam_date)
        return cls(tp, tuple(m.lesion_id for m in measurable.targets))

    def see(self, tp: TimepointAssessment) -> None:
        self.non_target_increase |= tp.non_target_increase_since_last
        self.new_non_target_increase |= tp.new_non_target_increase


def _new_lesion_reason(tp: TimepointAssessment, p: _Pending) -> str | None:
    """A new lesion appearing after iUPD (allowed before 4 weeks)."""
    before = progressing_categories(p.iupd)
    if "new lesions" not in before:
        return "new lesion(s) appeared after iUPD" if tp.new_lesions else None
    known = {m.lesion_id for m in p.iupd.new_lesion_measurements}
    another = sorted({m.lesion_id for m in tp.new_lesion_measurements} - known)
    if another:
        return f"another new lesion ({', '.join(another)}) since iUPD"
    return None


def _growth_reason(tp: TimepointAssessment, p: _Pending) -> str | None:
    """A further increase since the iUPD exam (needs the 4-week window)."""
    before = progressing_categories(p.iupd)
    newly = sorted(progressing_categories(tp) - before - {"new lesions"})
    if newly:
        return f"progression now also in {', '.join(newly)}"
    if "target" in before and tp.target and p.iupd.target:
        rise = _rise(tp.target.sum_mm, p.iupd.target.sum_mm)
        if rise is not None and rise >= ICPD_FURTHER_INCREASE_MM - _EPS:
            return f"target sum rose {rise:.1f} mm (>= 5 mm) since iUPD"
    if "non-target" in before and p.non_target_increase:
        return "non-target disease increased since iUPD"
    if "new lesions" in before:
        return _new_lesion_growth(tp, p)
    return None


def _new_lesion_growth(tp: TimepointAssessment, p: _Pending) -> str | None:
    now = {m.lesion_id: lesion_diameter(m) for m in tp.new_lesion_measurements}
    then = {m.lesion_id: lesion_diameter(m) for m in p.iupd.new_lesion_measurements}
    if p.new_targets:
        values = [(now.get(i), then.get(i)) for i in p.new_targets]
        if all(a is not None and b is not None for a, b in values):
            rise = sum(a or 0.0 for a, _ in values) - sum(b or 0.0 for _, b in values)
            if rise >= ICPD_FURTHER_INCREASE_MM - _EPS:
                return f"new lesion targets grew {rise:.1f} mm in sum (>= 5 mm) since iUPD"
    non_targets = [i for i in then if i not in p.new_targets]
    grown = [i for i in non_targets if (now.get(i) or 0.0) > (then[i] or 0.0) + _EPS and then[i]]
    if grown:
        return f"new non-target lesion(s) {', '.join(sorted(grown))} measured larger than at iUPD"
    if non_targets and p.new_non_target_increase:
        return "new non-target lesion(s) increased since iUPD"
    return None


def _rise(now: float | None, before: float | None) -> float | None:
    if now is None or before is None:
        return None
    return now - before


def _confirmation(tp: TimepointAssessment, p: _Pending) -> tuple[str | None, str]:
    """Why ``tp`` confirms the pending progression (or None), and a window note."""
    days = (tp.exam_date - p.iupd.exam_date).days
    early = days < CONFIRM_MIN_DAYS
    if early and tp.new_symptom_or_sign is False:
        return None, f"; {days} days after iUPD, < 4 weeks and not for a new symptom: disregarded"
    reason = _new_lesion_reason(tp, p)
    if reason is not None:
        return reason, f" ({days} days after iUPD)" if early else ""
    if early:
        return None, f"; {days} days after iUPD, < 4 weeks: only a new lesion can confirm"
    reason = _growth_reason(tp, p)
    late = f" ({days} days after iUPD, later than the 4-8 week window)"
    return reason, late if reason is not None and days > CONFIRM_MAX_DAYS else ""


def apply_irecist(timepoints: Sequence[TimepointAssessment]) -> list[TimepointAssessment]:
    """Add iRECIST responses to RECIST 1.1 time points given in date order.

    Returns copies with ``irecist`` set and a note naming the iRECIST rule.

    Example:
        >>> from datetime import date
        >>> from radcycle.guidelines.recist_response import NonTargetResponse
        >>> tp = TimepointAssessment(date(2025, 3, 1), None, NonTargetResponse.PD, False,
        ...                          OverallResponse.PD, None)
        >>> [t.irecist for t in apply_irecist([tp, tp])]
        ['iUPD', 'iUPD']
    """
    out: list[TimepointAssessment] = []
    pending: _Pending | None = None
    confirmed = False
    for tp in timepoints:
        if tp.response is not OverallResponse.PD:
            label = _PLAIN_TO_I[tp.response]
            if label is IResponse.NE and pending is not None:
                pending.see(tp)
                note = "not evaluable; iUPD still awaiting confirmation (iRECIST)"
            else:
                note = f"RECIST 1.1 {tp.response.value} -> {label.value} (iRECIST)"
                pending = None
            out.append(_labelled(tp, label, note))
        elif confirmed:
            out.append(_labelled(tp, IResponse.ICPD, "progression already confirmed (iCPD)"))
        elif pending is None:
            pending = _Pending.start(tp)
            where = ", ".join(sorted(progressing_categories(tp)))
            note = f"first RECIST 1.1 progression ({where}) -> iUPD, unconfirmed (iRECIST)"
            out.append(_labelled(tp, IResponse.IUPD, note))
        else:
            pending.see(tp)
            reason, window = _confirmation(tp, pending)
            if reason is not None:
                confirmed = True
                out.append(_labelled(tp, IResponse.ICPD, f"{reason}{window} -> iCPD (iRECIST)"))
            else:
                since = pending.iupd.exam_date.isoformat()
                note = f"no further increase since iUPD of {since}{window} -> remains iUPD"
                out.append(_labelled(tp, IResponse.IUPD, f"{note} (iRECIST)"))
    return out


def _labelled(tp: TimepointAssessment, label: IResponse, note: str) -> TimepointAssessment:
    return replace(tp, irecist=label.value, notes=(*tp.notes, note))
