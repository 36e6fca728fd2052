"""From quality findings to a verdict per analysis: fit, fit with caveats, unfit.

The rules are data: :data:`RULES` maps each finding code to the analyses it
affects and how badly. An analysis is ``unfit`` when one finding makes it so,
``fit with caveats`` when one limits it, else ``fit``; the reasons are the
findings' own sentences.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ANALYSES", "RULES", "Finding", "verdicts"]

#: The analyses judged, with the commands that run them.
ANALYSES: dict[str, str] = {
    "lung-nodules": "detect; follow without --lesion (Lung-RADS, Fleischner)",
    "recist": "segment, measure, follow (RECIST 1.1 axes and volumes)",
    "radiomics": "radiomics (IBSI 1 features)",
}

UNFIT = "unfit"
CAVEAT = "fit with caveats"
FIT = "fit"
_ORDER = {FIT: 0, CAVEAT: 1, UNFIT: 2}

# finding code -> {analysis: severity}; the reason each rule holds is in its comment.
RULES: dict[str, dict[str, str]] = {
    # millimetres unknown: nothing may be measured
    "nominal-geometry": {"lung-nodules": UNFIT, "recist": UNFIT, "radiomics": UNFIT},
    # the detector and Lung-RADS solid/ground-glass thresholds are in HU
    "not-ct": {"lung-nodules": UNFIT},
    "no-lungs": {"lung-nodules": UNFIT},
    "lungs-cut-off": {"lung-nodules": CAVEAT},
    # Lung-RADS v2022 and Fleischner 2017 ask for thin sections (<= 2.5 mm,
    # ideally <= 1.5 mm); nodules under 6 mm are lost in thicker ones
    "thick-slices": {"lung-nodules": CAVEAT, "radiomics": CAVEAT},
    # RECIST 1.1 section 3.1.1: measurable size is twice the slice thickness above 5 mm
    "very-thick-slices": {"lung-nodules": UNFIT, "recist": CAVEAT, "radiomics": CAVEAT},
    "series-problem": {"lung-nodules": CAVEAT, "recist": CAVEAT, "radiomics": CAVEAT},
    "truncated-body": {"lung-nodules": CAVEAT, "recist": CAVEAT},
    # texture features and ground-glass outlines are noise-sensitive
    "noisy": {"lung-nodules": CAVEAT, "radiomics": CAVEAT},
    # low dose is the screening standard for lung nodules, not for soft tissue
    "low-dose": {"recist": CAVEAT, "radiomics": CAVEAT},
    "metal": {"lung-nodules": CAVEAT, "recist": CAVEAT, "radiomics": CAVEAT},
    "discontinuities": {"lung-nodules": CAVEAT, "recist": CAVEAT, "radiomics": CAVEAT},
    # a breath between slices steps the diaphragm: nodules near it doubled or lost
    "breathing": {"lung-nodules": CAVEAT, "recist": CAVEAT, "radiomics": CAVEAT},
    # the header names a contrast agent but the aorta is unenhanced (or the
    # reverse is not known: an absent agent says nothing): HU and enhancement
    # are not what the header says
    "contrast-mismatch": {"recist": CAVEAT, "radiomics": CAVEAT},
    # MR and PET values are not in absolute units: normalise before radiomics
    "arbitrary-units": {"radiomics": CAVEAT},
}


@dataclass(frozen=True)
class Finding:
    """One quality fact that limits an analysis, with its sentence."""

    code: str
    message: str

    def __post_init__(self) -> None:
        if self.code not in RULES:
            raise ValueError(f"unknown quality finding {self.code!r}; known: {sorted(RULES)}")


def verdicts(findings: Iterable[Finding]) -> dict[str, dict[str, object]]:
    """The verdict and reasons per analysis of :data:`ANALYSES`.

    Example:
        >>> v = verdicts([Finding("thick-slices", "slices 3 mm apart")])
        >>> v["lung-nodules"]["verdict"], v["recist"]["verdict"]
        ('fit with caveats', 'fit')
    """
    found = list(findings)
    out: dict[str, dict[str, object]] = {}
    for analysis in ANALYSES:
        worst, reasons = FIT, []
        for f in found:
            severity = RULES[f.code].get(analysis)
            if severity is None:
                continue
            reasons.append(f"{severity}: {f.message}")
            worst = max(worst, severity, key=_ORDER.__getitem__)
        out[analysis] = {"verdict": worst, "reasons": reasons}
    return out
