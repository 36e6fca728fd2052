"""iRECIST (Seymour et al., Lancet Oncol 2017;18:e143-e152) on top of RECIST 1.1.

Under immunotherapy a tumour may grow before it shrinks (pseudoprogression), so
the first RECIST 1.1 progression is only *unconfirmed* (iUPD). The next exam
either confirms it (iCPD) or, if RECIST 1.1 no longer shows progression, resets
the status, and a later progression is again only iUPD.

The rules encoded (a simplified reading of iRECIST, Table 2 of the paper):

* first PD, or the first PD after a reset -> **iUPD**;
* at a later exam that is still PD, **iCPD** when, compared with the last iUPD exam:
  the sum of target diameters rose >= 5 mm (targets were PD at iUPD); or
  non-target disease grew further (the radiologist's ``non_target_increase_since_last``,
  non-targets were PD at iUPD); or new lesions grew in number or in the sum of their
  diameters by >= 5 mm (new lesions were present at iUPD); or a category that was
  not progressing at iUPD now meets RECIST 1.1 progression (e.g. a first new lesion);
* still PD without any of these -> remains **iUPD** (compared next time with this exam);
* NE after iUPD -> NE, and the iUPD stays pending;
* no PD -> the RECIST 1.1 response with an ``i`` prefix (iCR, iPR, iSD,
  non-iCR/non-iUPD), and the pending iUPD is reset.

Not encoded: the 4 to 8 week window for the confirming exam (any next exam is
used), clinical stability, and the separate measurement of new lesions as new
targets (up to 5) and new non-targets: the new-lesion sum here is the sum of
RECIST diameters of all counted new lesions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum

from radcycle.guidelines.recist_response import (
    NonTargetResponse,
    OverallResponse,
    TargetResponse,
    TimepointAssessment,
)

__all__ = ["IResponse", "apply_irecist"]

# iRECIST: confirmation of progression needs a further increase of >= 5 mm.
ICPD_FURTHER_INCREASE_MM = 5.0
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


def _confirmation(tp: TimepointAssessment, iupd: TimepointAssessment) -> str | None:
    """Why ``tp`` confirms the progression first seen at ``iupd``, or None."""
    before, now = progressing_categories(iupd), progressing_categories(tp)
    newly = sorted(now - before)
    if newly:
        return f"progression now also in {', '.join(newly)}"
    if "target" in before and tp.target and iupd.target:
        rise = _rise(tp.target.sum_mm, iupd.target.sum_mm)
        if rise is not None and rise >= ICPD_FURTHER_INCREASE_MM - _EPS:
            return f"target sum rose a further {rise:.1f} mm (>= 5 mm) since iUPD"
    if "non-target" in before and tp.non_target_increase_since_last:
        return "non-target disease increased further since iUPD"
    if "new lesions" in before:
        if tp.new_lesion_count > iupd.new_lesion_count:
            counts = f"{iupd.new_lesion_count} -> {tp.new_lesion_count}"
            return f"new lesions increased in number ({counts})"
        rise = tp.new_lesion_sum_mm - iupd.new_lesion_sum_mm
        if rise >= ICPD_FURTHER_INCREASE_MM - _EPS:
            return f"new lesions grew {rise:.1f} mm in sum (>= 5 mm)"
    return None


def _rise(now: float | None, before: float | None) -> float | None:
    if now is None or before is None:
        return None
    return now - before


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
    pending: TimepointAssessment | None = None
    confirmed = False
    for tp in timepoints:
        if tp.response is not OverallResponse.PD:
            label = _PLAIN_TO_I[tp.response]
            if label is IResponse.NE and pending is not None:
                note = "not evaluable; iUPD still awaiting confirmation (iRECIST)"
            else:
                note = f"RECIST 1.1 {tp.response.value} -> {label.value} (iRECIST)"
                if not confirmed:
                    pending = None
            out.append(_labelled(tp, label, note))
            continue
        if confirmed:
            out.append(_labelled(tp, IResponse.ICPD, "progression already confirmed (iCPD)"))
            continue
        if pending is None:
            pending = tp
            where = ", ".join(sorted(progressing_categories(tp)))
            note = f"first RECIST 1.1 progression ({where}) -> iUPD, unconfirmed (iRECIST)"
            out.append(_labelled(tp, IResponse.IUPD, note))
            continue
        reason = _confirmation(tp, pending)
        if reason is not None:
            confirmed = True
            out.append(_labelled(tp, IResponse.ICPD, f"{reason} -> iCPD (iRECIST)"))
        else:
            pending = tp
            note = "still progressing without further increase -> remains iUPD (iRECIST)"
            out.append(_labelled(tp, IResponse.IUPD, note))
    return out


def _labelled(tp: TimepointAssessment, label: IResponse, note: str) -> TimepointAssessment:
    return replace(tp, irecist=label.value, notes=(*tp.notes, note))
