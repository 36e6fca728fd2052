"""Fleischner Society 2017 guidelines for incidental pulmonary nodules.

MacMahon et al., Radiology 2017;284:228-243, Table 1 (solid nodules) and the
subsolid-nodule part of the same table. Size is the average of long and short
axis rounded to the nearest millimetre, so "< 6 mm" means 5 mm or less after
rounding, "6-8 mm" means 6, 7 or 8 mm, and "> 8 mm" 9 mm or more.

Not applicable (the guideline's own exclusions): patients younger than 35 years,
lung cancer screening, known primary cancer, and immunosuppression. The result
then says so, with the reason, and recommends nothing.

Multiple nodules are managed by the most suspicious one: each nodule type's row
is looked up and the most urgent recommendation is kept (for solid nodules the
table's "multiple" rows, for subsolid the "multiple subsolid" rows). "High risk"
is the reader's judgement (smoking, exposure, family history, upper lobe,
emphysema or fibrosis, ...), an input.

Part-solid nodules (MacMahon 2017, Table 1 and its remarks): >= 6 mm, CT at 3-6
months to confirm persistence; "if unchanged and solid component remains < 6 mm,
annual CT should be performed for 5 years"; "persistent part-solid nodules with
solid components >= 6 mm should be considered highly suspicious"; a solid
component of more than 8 mm, or a persistent part-solid nodule whose solid part
grows, calls for PET/CT, biopsy or resection, in the recommendation itself.
With the prior exam's nodules (``priors``, matched by ``lesion_id``) a nodule is
persistent; its solid part grows when its rounded size rose by >= 2 mm (the
Fleischner measurement statement, Bankier et al., Radiology 2017;285:584-600:
sizes rounded to the nearest millimetre, our reading of "growth" as >= 2 mm) or
when a solid part appears in a nodule that was ground-glass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from radcycle.domain.findings import LesionMeasurement, NoduleType
from radcycle.errors import InputError
from radcycle.guidelines.results import FollowUpInterval, GuidelineResult, due_dates, round_half_up

__all__ = ["GUIDELINE", "FleischnerPatient", "fleischner", "fleischner_size"]

GUIDELINE = "Fleischner 2017"
MIN_AGE = 35
# Part-solid: solid component > 8 mm (9 mm or more after rounding) -> PET/CT, biopsy
# or resection; >= 6 mm highly suspicious; growth of the solid part >= 2 mm.
SOLID_PART_SUSPICIOUS_MM = 6
SOLID_PART_WORKUP_MM = 8
SOLID_PART_GROWTH_MM = 2


@dataclass(frozen=True)
class FleischnerPatient:
    """What the guideline needs to know about the patient and the context.

    Args:
        age: years at the exam.
        high_risk: the reader's clinical risk judgement.
        known_cancer: known primary cancer (an exclusion).
        immunosuppressed: an exclusion.
        screening: the CT is a lung cancer screening exam (use Lung-RADS instead).
    """

    age: int
    high_risk: bool = False
    known_cancer: bool = False
    immunosuppressed: bool = False
    screening: bool = False


@dataclass(frozen=True)
class _Row:
    """One cell of Table 1: recommendation, follow-up interval, urgency rank."""

    text: str
    interval: FollowUpInterval | None
    urgency: int  # 0 = no routine follow-up ... 4 = consider CT at 3 months / PET / tissue


_NO_FU = _Row("No routine follow-up", None, 0)
_SUSPICIOUS = _Row(
    "CT at 3-6 months to confirm persistence; solid component >= 6 mm: highly suspicious "
    "if persistent",
    FollowUpInterval(3, 6),
    3,
)
_WORKUP = _Row("PET/CT, biopsy or resection should be considered", None, 5)
_ANNUAL_5Y = _Row(
    "Persistent and unchanged with solid component < 6 mm: annual CT for 5 years",
    FollowUpInterval(12, 12),
    2,
)
_OPTIONAL_12 = _Row("Optional CT at 12 months", FollowUpInterval(12, 12), 1)

# (nodule kind, multiple, size band, high risk) -> row. Size bands: "<6", "6-8", ">8";
# subsolid bands: "<6", ">=6". Table 1 of MacMahon et al. 2017.
_TABLE: dict[tuple[str, bool, str, bool], _Row] = {
    ("solid", False, "<6", False): _NO_FU,
    ("solid", False, "<6", True): _OPTIONAL_12,
    ("solid", False, "6-8", False): _Row(
        "CT at 6-12 months, then consider CT at 18-24 months", FollowUpInterval(6, 12), 2
    ),
    ("solid", False, "6-8", True): _Row(
        "CT at 6-12 months, then CT at 18-24 months", FollowUpInterval(6, 12), 2
    ),
    ("solid", False, ">8", False): _Row(
        "Consider CT at 3 months, PET/CT, or tissue sampling", FollowUpInterval(3, 3), 4
    ),
    ("solid", False, ">8", True): _Row(
        "Consider CT at 3 months, PET/CT, or tissue sampling", FollowUpInterval(3, 3), 4
    ),
    ("solid", True, "<6", False): _NO_FU,
    ("solid", True, "<6", True): _OPTIONAL_12,
    ("solid", True, "6-8", False): _Row(
        "CT at 3-6 months, then consider CT at 18-24 months", FollowUpInterval(3, 6), 3
    ),
    ("solid", True, "6-8", True): _Row(
        "CT at 3-6 months, then at 18-24 months", FollowUpInterval(3, 6), 3
    ),
    ("solid", True, ">8", False): _Row(
        "CT at 3-6 months, then consider CT at 18-24 months", FollowUpInterval(3, 6), 3
    ),
    ("solid", True, ">8", True): _Row(
        "CT at 3-6 months, then at 18-24 months", FollowUpInterval(3, 6), 3
    ),
    ("ground-glass", False, "<6", False): _NO_FU,
    ("ground-glass", False, ">=6", False): _Row(
        "CT at 6-12 months to confirm persistence, then CT every 2 years until 5 years",
        FollowUpInterval(6, 12),
        2,
    ),
    ("part-solid", False, "<6", False): _NO_FU,
    ("part-solid", False, ">=6", False): _Row(
        "CT at 3-6 months to confirm persistence; if unchanged and the solid component "
        "remains < 6 mm, annual CT for 5 years",
        FollowUpInterval(3, 6),
        3,
    ),
    ("subsolid", True, "<6", False): _Row(
        "CT at 3-6 months; if stable, consider CT at 2 and 4 years", FollowUpInterval(3, 6), 3
    ),
    ("subsolid", True, ">=6", False): _Row(
        "CT at 3-6 months; subsequent management based on the most suspicious nodule(s)",
        FollowUpInterval(3, 6),
        3,
    ),
}


def fleischner_size(m: LesionMeasurement) -> int:
    """Average of long and short axis, rounded half up to the nearest millimetre.

    Example:
        >>> fleischner_size(LesionMeasurement(lesion_id="n", long_axis_mm=6.0, short_axis_mm=5.0))
        6
    """
    if m.long_axis_mm is None:
        raise InputError(f"{m.lesion_id}: Fleischner 2017 needs the long axis")
    short = m.short_axis_mm if m.short_axis_mm is not None else m.long_axis_mm
    return int(round_half_up((m.long_axis_mm + short) / 2.0, "1"))


def _exclusion(patient: FleischnerPatient) -> str | None:
    checks = (
        (patient.age < MIN_AGE, f"patient younger than {MIN_AGE} years (age {patient.age})"),
        (patient.screening, "lung cancer screening exam (use Lung-RADS)"),
        (patient.known_cancer, "known primary cancer"),
        (patient.immunosuppressed, "immunosuppressed patient"),
    )
    reasons = [text for applies, text in checks if applies]
    return "; ".join(reasons) if reasons else None


def _lookup(
    m: LesionMeasurement, multiple: bool, high_risk: bool, prior: LesionMeasurement | None
) -> tuple[_Row, str, str]:
    """Table row, the words saying why, and the category text for one nodule."""
    size = fleischner_size(m)
    kind = (m.nodule_type or NoduleType.SOLID).value
    if kind == "solid":
        band = "<6" if size < 6 else ("6-8" if size <= 8 else ">8")
        key = ("solid", multiple, band, high_risk)
    else:
        band = "<6" if size < 6 else ">=6"
        key = ("subsolid" if multiple else kind, multiple, band, False)
    count = "multiple" if multiple else "single"
    risk = f", {'high' if high_risk else 'low'} risk" if kind == "solid" else ""
    where = f"{m.lesion_id}: {count} {kind} nodule, {size} mm{risk}"
    category = f"{count} {kind} {_BAND_TEXT[band]}"
    if kind == "part-solid" and band == ">=6":
        found = _part_solid(m, prior)
        if found is not None:
            row, why, label = found
            return row, f"{where}; {why}", f"{count} part-solid, {label}"
    return _TABLE[key], where, category


def _part_solid(
    m: LesionMeasurement, prior: LesionMeasurement | None
) -> tuple[_Row, str, str] | None:
    """The part-solid rows beyond size: solid part > 8 mm, growing, persistent."""
    if m.solid_component_mm is None:
        return None
    solid = int(round_half_up(m.solid_component_mm, "1"))
    if solid > SOLID_PART_WORKUP_MM:
        return _WORKUP, f"solid component {solid} mm > 8 mm", "solid component > 8 mm"
    grown = _solid_growth(m, prior)
    if grown is not None:
        return _WORKUP, grown, "growing solid component"
    if solid >= SOLID_PART_SUSPICIOUS_MM:
        row = _SUSPICIOUS
        why = f"solid component {solid} mm >= 6 mm: highly suspicious"
        if prior is not None:
            why = f"persistent, {why}"
        return row, why, "solid component >= 6 mm, highly suspicious"
    if prior is not None:
        return _ANNUAL_5Y, f"persistent, solid component {solid} mm < 6 mm", "persistent"
    return None


def _solid_growth(m: LesionMeasurement, prior: LesionMeasurement | None) -> str | None:
    if prior is None or m.solid_component_mm is None:
        return None
    if prior.nodule_type is NoduleType.GROUND_GLASS:
        return "solid component appeared in a persistent ground-glass nodule"
    if prior.nodule_type is not NoduleType.PART_SOLID or prior.solid_component_mm is None:
        return None
    now = int(round_half_up(m.solid_component_mm, "1"))
    before = int(round_half_up(prior.solid_component_mm, "1"))
    if now - before >= SOLID_PART_GROWTH_MM:
        return f"solid component grew {before} -> {now} mm (>= 2 mm)"
    return None


_BAND_TEXT = {"<6": "< 6 mm", "6-8": "6-8 mm", ">8": "> 8 mm", ">=6": ">= 6 mm"}


def fleischner(
    nodules: Sequence[LesionMeasurement],
    patient: FleischnerPatient,
    exam_date: date | None = None,
    priors: Mapping[str, LesionMeasurement] | None = None,
) -> GuidelineResult:
    """Fleischner 2017 recommendation for incidental nodules on one CT.

    A nodule without ``nodule_type`` is taken as solid. ``priors`` maps a
    ``lesion_id`` to the same nodule on the previous CT (persistence and growth
    of a part-solid nodule's solid component).

    Example:
        >>> n = LesionMeasurement(lesion_id="n1", long_axis_mm=7.0, short_axis_mm=6.0,
        ...                       nodule_type="solid")
        >>> r = fleischner([n], FleischnerPatient(age=60), date(2025, 1, 15))
        >>> r.category, r.next_exam_date
        ('single solid 6-8 mm', datetime.date(2025, 7, 15))
    """
    inputs: dict[str, object] = {
        "age": patient.age,
        "high_risk": patient.high_risk,
        "nodules": [m.lesion_id for m in nodules],
        "exam_date": exam_date,
    }
    excluded = _exclusion(patient)
    if excluded is not None:
        return GuidelineResult(
            guideline=GUIDELINE,
            category="not applicable",
            recommendation="Fleischner 2017 does not apply",
            rule_fired=f"{GUIDELINE} exclusion: {excluded}",
            inputs=inputs,
            applicable=False,
        )
    if not nodules:
        raise InputError("Fleischner 2017 needs at least one nodule")
    multiple = len(nodules) > 1
    before = priors or {}
    looked_up = [
        (_lookup(m, multiple, patient.high_risk, before.get(m.lesion_id)), fleischner_size(m))
        for m in nodules
    ]
    # The most urgent row; on a tie, the larger nodule ("the most suspicious nodule").
    (row, where, category), _ = max(looked_up, key=lambda found: (found[0][0].urgency, found[1]))
    earliest, latest = due_dates(exam_date, row.interval)
    return GuidelineResult(
        guideline=GUIDELINE,
        category=category,
        recommendation=row.text,
        rule_fired=f"{GUIDELINE} Table 1: {where} -> {row.text}",
        interval=row.interval,
        next_exam_date=earliest,
        next_exam_latest=latest,
        inputs=inputs,
    )
