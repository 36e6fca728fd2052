"""Lung-RADS v2022 (American College of Radiology; Christensen et al., Chest 2024).

Per nodule (:func:`classify_nodule`) and per screening exam (:func:`lung_rads`).

Size is the mean of long and short axis rounded to 0.1 mm; growth is an increase
in mean diameter of more than 1.5 mm (of the solid component for a part-solid
nodule). A nodule is *baseline* on the first screening round, *new* on a later
round when it has no prior, *growing* or *stable* when it has one.

Rules encoded (Lung-RADS v2022 categories table; "a to < b" includes a):

* 1: no nodules, or nodules with benign calcification or fat;
* 2: solid < 6 mm at baseline or new < 4 mm; juxtapleural / perifissural solid,
  smooth, oval / lentiform / triangular, < 10 mm mean; part-solid < 6 mm total at
  baseline; ground-glass < 30 mm at baseline, new or growing, or >= 30 mm stable
  or slowly growing; subsegmental airway nodule at baseline, new or stable;
* 3: solid 6 to < 8 mm at baseline or new 4 to < 6 mm; part-solid >= 6 mm total
  with solid component < 6 mm at baseline, or new < 6 mm total; ground-glass
  >= 30 mm at baseline or new, or growing (> 1.5 mm within 12 months) into or
  within the >= 30 mm band (see below); atypical cyst: growing cystic component
  of a thin-walled cyst;
* 4A: solid 8 to < 15 mm at baseline, growing < 8 mm, or new 6 to < 8 mm;
  part-solid with solid component 6 to < 8 mm at baseline, or new or growing
  solid component < 4 mm; segmental or more proximal airway nodule at baseline
  or new; atypical cyst: thick-walled, multilocular at baseline, or a cyst that
  becomes multilocular;
* 4B: solid >= 15 mm at baseline or new or growing >= 8 mm; part-solid with solid
  component >= 8 mm at baseline or new or growing solid component >= 4 mm;
  segmental or more proximal airway nodule stable or growing; atypical cyst:
  thick wall or nodularity growing, multilocular cyst growing, or more loculation
  or a new or larger opacity in a multilocular cyst;
* 4X: category 3 or 4 with additional features that raise suspicion (an input);
* stepped management: "Category 3 nodules that are stable or decreased in size
  at 6-month follow-up" become category 2 and "Category 4A nodules that are
  stable or decreased in size at 3-month follow-up" category 3 (excluding
  airway nodules). The prior category is an input (``prior_category``); without
  it, it is derived from the prior measurement by the baseline-round rules;
* 0: prior CT being located, part of the lungs not evaluable, or findings that
  suggest infection or inflammation (inputs);
* S: significant or potentially significant other findings (an input modifier).

Ground-glass growth: "slow growth" is growth that does not reach > 1.5 mm within
12 months. A ground-glass nodule that grows > 1.5 mm within 12 months (or over an
unknown interval) to >= 30 mm is neither stable nor slowly growing; the only
other >= 30 mm row is category 3, so it is category 3 (our reading).

Simplification left, documented: growth of a solid or part-solid nodule is
counted whatever the interval (beyond 12 months the rule text says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from radcycle.domain.findings import LesionMeasurement, NoduleType, parse_enum
from radcycle.errors import InputError
from radcycle.guidelines.results import FollowUpInterval, GuidelineResult, due_dates, round_half_up

__all__ = [
    "GUIDELINE",
    "AirwayNodule",
    "Category0Reason",
    "CystFinding",
    "LungRadsExam",
    "LungRadsNodule",
    "NoduleCategory",
    "NoduleFeature",
    "classify_nodule",
    "lung_rads",
    "mean_diameter",
]

GUIDELINE = "Lung-RADS v2022"
GROWTH_MM = 1.5  # growth: mean diameter increase > 1.5 mm (within 12 months)
GROWTH_MONTHS = 12.0
JUXTAPLEURAL_MAX_MM = 10.0
GROUND_GLASS_MAX_MM = 30.0
ORDER = ("1", "2", "3", "4A", "4B", "4X")


class NoduleFeature(StrEnum):
    """Reader's observations that change a nodule's category (inputs)."""

    BENIGN_CALCIFICATION_OR_FAT = "benign calcification or fat"
    JUXTAPLEURAL_BENIGN = "juxtapleural or perifissural, smooth, oval/lentiform/triangular"
    SUSPICIOUS = "additional features that increase suspicion (4X)"


class AirwayNodule(StrEnum):
    """An endobronchial (airway) nodule and where it lies (Lung-RADS v2022)."""

    SUBSEGMENTAL = "subsegmental"
    SEGMENTAL_OR_PROXIMAL = "segmental or more proximal"


class CystFinding(StrEnum):
    """Atypical pulmonary cyst findings (Lung-RADS v2022), with their category."""

    THIN_WALLED_GROWING = "growing cystic component of a thin-walled cyst"
    THICK_WALLED = "thick-walled cyst"
    MULTILOCULAR_BASELINE = "multilocular cyst at baseline"
    BECOMES_MULTILOCULAR = "thin- or thick-walled cyst that becomes multilocular"
    THICK_WALL_GROWING = "thick-walled cyst with growing wall thickness or nodularity"
    MULTILOCULAR_GROWING = "growing multilocular cyst (mean diameter)"
    MULTILOCULAR_MORE = (
        "multilocular cyst with increased loculation or new or increased opacity "
        "(nodular, ground-glass or consolidation)"
    )


_CYST_CATEGORY = {
    CystFinding.THIN_WALLED_GROWING: "3",
    CystFinding.THICK_WALLED: "4A",
    CystFinding.MULTILOCULAR_BASELINE: "4A",
    CystFinding.BECOMES_MULTILOCULAR: "4A",
    CystFinding.THICK_WALL_GROWING: "4B",
    CystFinding.MULTILOCULAR_GROWING: "4B",
    CystFinding.MULTILOCULAR_MORE: "4B",
}


class Category0Reason(StrEnum):
    """Why an exam is incomplete (category 0)."""

    PRIOR_BEING_LOCATED = "prior chest CT being located for comparison"
    NOT_EVALUABLE = "part or all of the lungs cannot be evaluated"
    INFECTION_INFLAMMATION = "findings suggestive of an inflammatory or infectious process"


@dataclass(frozen=True)
class LungRadsNodule:
    """One nodule on a screening exam.

    Args:
        current: this exam's measurement (needs ``nodule_type``, long and short axis,
            and ``solid_component_mm`` for a part-solid nodule).
        prior: the same nodule on the previous screening exam, if it was seen.
        months_since_prior: interval to that exam (for the growth rule's 12 months).
        features: reader's observations (:class:`NoduleFeature`).
        prior_category: the nodule's category at the last exam, for stepped
            management; derived from ``prior`` by the baseline-round rules if None.
        airway: an airway (endobronchial) nodule and its level, if it is one.
        cyst: the atypical pulmonary cyst finding, if it is one.
    """

    current: LesionMeasurement
    prior: LesionMeasurement | None = None
    months_since_prior: float | None = None
    features: frozenset[NoduleFeature] = field(default_factory=frozenset)
    prior_category: str | None = None
    airway: AirwayNodule | None = None
    cyst: CystFinding | None = None

    def __post_init__(self) -> None:
        if self.airway is not None:
            object.__setattr__(self, "airway", parse_enum(AirwayNodule, self.airway, "airway"))
        if self.cyst is not None:
            object.__setattr__(self, "cyst", parse_enum(CystFinding, self.cyst, "cyst"))
        if self.airway is not None and self.cyst is not None:
            raise InputError(f"{self.current.lesion_id}: an airway nodule is not a cyst")
        special = self.airway is not None or self.cyst is not None
        if self.current.nodule_type is None and not special:
            raise InputError(f"{self.current.lesion_id}: Lung-RADS needs the nodule type")
        feats = frozenset(parse_enum(NoduleFeature, f, "feature") for f in self.features)
        object.__setattr__(self, "features", feats)
        if self.prior_category is not None and self.prior_category not in ORDER:
            raise InputError(
                f"prior Lung-RADS category must be one of {ORDER}", value=self.prior_category
            )


@dataclass(frozen=True)
class LungRadsExam:
    """One lung cancer screening CT.

    Args:
        exam_date: date of the exam (the next exam date is computed from it).
        nodules: every nodule reported.
        baseline_round: True for the first screening exam (no prior screening CT).
        incomplete: why the exam is category 0, if it is.
        significant_other_findings: the S modifier.
    """

    exam_date: date
    nodules: tuple[LungRadsNodule, ...] = ()
    baseline_round: bool = True
    incomplete: Category0Reason | None = None
    significant_other_findings: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodules", tuple(self.nodules))
        if self.incomplete is not None:
            reason = parse_enum(Category0Reason, self.incomplete, "incomplete")
            object.__setattr__(self, "incomplete", reason)


@dataclass(frozen=True)
class NoduleCategory:
    """A nodule's category and the rule that gave it."""

    lesion_id: str
    category: str
    rule: str
    mean_mm: float
    solid_mm: float | None
    management_note: str = ""


def mean_diameter(m: LesionMeasurement) -> float:
    """Lung-RADS size: mean of long and short axis, rounded half up to 0.1 mm.

    Example:
        >>> mean_diameter(LesionMeasurement(lesion_id="n", long_axis_mm=6.3, short_axis_mm=5.6))
        6.0
    """
    if m.long_axis_mm is None:
        raise InputError(f"{m.lesion_id}: Lung-RADS needs the long axis")
    short = m.short_axis_mm if m.short_axis_mm is not None else m.long_axis_mm
    return round_half_up((m.long_axis_mm + short) / 2.0)


def _solid_mm(m: LesionMeasurement) -> float:
    if m.solid_component_mm is None:
        raise InputError(f"{m.lesion_id}: a part-solid nodule needs solid_component_mm")
    return round_half_up(m.solid_component_mm)


def _band(value: float, bands: Sequence[tuple[float, str]], last: str) -> str:
    """First category whose upper bound (exclusive) is above ``value``."""
    for upper, category in bands:
        if value < upper:
            return category
    return last


# Solid nodules (Lung-RADS v2022): (upper bound exclusive, category), then ">= last".
_SOLID_BASELINE = ((6.0, "2"), (8.0, "3"), (15.0, "4A")), "4B"
_SOLID_NEW = ((4.0, "2"), (6.0, "3"), (8.0, "4A")), "4B"
_SOLID_GROWING = ((8.0, "4A"),), "4B"
# Part-solid, by solid component (total >= 6 mm): baseline and new-or-growing.
_PART_SOLID_BASELINE = ((6.0, "3"), (8.0, "4A")), "4B"
_PART_SOLID_NEW_OR_GROWING = ((4.0, "4A"),), "4B"
# Stepped management (v2022): "Category 4A nodules that are stable or decreased in
# size at 3-month follow-up" -> 3; "Category 3 nodules ... at 6-month follow-up" -> 2.
# A stable nodule of category 1 or 2 stays 2 (benign features keep 1).
_STEP_DOWN = {"4A": "3", "3": "2", "2": "2", "1": "2"}


def _growth(nodule: LungRadsNodule, part_solid: bool) -> float | None:
    prior = nodule.prior
    if prior is None:
        return None
    if part_solid:
        if prior.nodule_type is NoduleType.GROUND_GLASS:
            # A solid component appearing in a ground-glass nodule is a new one.
            return _solid_mm(nodule.current)
        if prior.solid_component_mm is None:
            return None
        return _solid_mm(nodule.current) - _solid_mm(prior)
    return mean_diameter(nodule.current) - mean_diameter(prior)


def classify_nodule(nodule: LungRadsNodule, *, baseline_round: bool) -> NoduleCategory:
    """Lung-RADS v2022 category of one nodule.

    Example:
        >>> n = LungRadsNodule(LesionMeasurement(lesion_id="n", long_axis_mm=9.0,
        ...                    short_axis_mm=7.0, nodule_type="solid"))
        >>> classify_nodule(n, baseline_round=True).category
        '4A'
    """
    m = nodule.current
    size = mean_diameter(m)
    solid = _solid_mm(m) if m.nodule_type is NoduleType.PART_SOLID else None
    category, rule = _category(nodule, size, solid, baseline_round)
    if NoduleFeature.SUSPICIOUS in nodule.features and category in ("3", "4A", "4B"):
        rule = f"{rule}; additional suspicious features raise category {category} to 4X"
        category = "4X"
    note = ""
    if nodule.airway is AirwayNodule.SEGMENTAL_OR_PROXIMAL and category == "4A":
        note = "airway nodule: category 4B if it persists at follow-up (stable or growing)"
    return NoduleCategory(m.lesion_id, category, f"{GUIDELINE}: {rule}", size, solid, note)


def _stage(nodule: LungRadsNodule, baseline_round: bool, growth: float | None) -> str:
    if nodule.prior is None:
        return "baseline" if baseline_round else "new"
    if _solid_part_appeared(nodule):
        return "growing"  # "new or growing ... solid component"
    if growth is not None and growth > GROWTH_MM:
        return "growing"
    return "stable"


def _solid_part_appeared(nodule: LungRadsNodule) -> bool:
    prior = nodule.prior
    return (
        prior is not None
        and prior.nodule_type is NoduleType.GROUND_GLASS
        and nodule.current.nodule_type is NoduleType.PART_SOLID
    )


def _prior_category(nodule: LungRadsNodule) -> tuple[str | None, str]:
    """The prior category given, or derived from the prior measurement."""
    if nodule.prior_category is not None or nodule.prior is None:
        return nodule.prior_category, ""
    prior = nodule.prior
    if prior.nodule_type is None:
        prior = replace(prior, nodule_type=nodule.current.nodule_type)
    if prior.nodule_type is NoduleType.PART_SOLID and prior.solid_component_mm is None:
        return None, ""
    kept = nodule.features - {NoduleFeature.SUSPICIOUS}
    derived = classify_nodule(LungRadsNodule(prior, features=kept), baseline_round=True)
    return derived.category, " (prior category derived from the prior exam, baseline rules)"


def _category(
    nodule: LungRadsNodule, size: float, solid: float | None, baseline_round: bool
) -> tuple[str, str]:
    m = nodule.current
    if NoduleFeature.BENIGN_CALCIFICATION_OR_FAT in nodule.features:
        return "1", "benign calcification pattern or fat: category 1"
    if nodule.cyst is not None:
        category = _CYST_CATEGORY[nodule.cyst]
        return category, f"atypical pulmonary cyst: {nodule.cyst.value}: category {category}"
    growth = _growth(nodule, m.nodule_type is NoduleType.PART_SOLID)
    stage = _stage(nodule, baseline_round, growth)
    if nodule.airway is not None:
        return _airway(nodule.airway, stage)
    where = f"{stage} {m.nodule_type}, mean {size:.1f} mm"
    if _solid_part_appeared(nodule):
        where += ", new solid component in a ground-glass nodule"
    elif growth is not None and stage == "growing":
        where += f", grew {growth:.1f} mm (> 1.5 mm){_interval_note(nodule)}"
    if stage == "stable" and _crossed_threshold(nodule):
        alone = LungRadsNodule(m, features=nodule.features - {NoduleFeature.SUSPICIOUS})
        by_size = _category(alone, size, solid, True)
        return by_size[0], (
            f"{where}; crossed a size threshold without growth, reclassified by size "
            f"(v2022 size thresholds): {by_size[1]}"
        )
    prior_category, derived = _prior_category(nodule)
    if stage == "stable" and prior_category in _STEP_DOWN:
        stepped = _STEP_DOWN[prior_category]
        step = f"stable or decreased, prior {prior_category}{derived} -> {stepped}"
        return stepped, f"{where}; {step} (v2022 stepped management)"
    if m.nodule_type is NoduleType.GROUND_GLASS:
        return _ground_glass(nodule, size, stage, where)
    if m.nodule_type is NoduleType.PART_SOLID and solid is not None:
        return _part_solid(size, solid, stage, where)
    benign_site = NoduleFeature.JUXTAPLEURAL_BENIGN in nodule.features
    if benign_site and size < JUXTAPLEURAL_MAX_MM and stage != "growing":
        return "2", f"{where}; juxtapleural/perifissural benign morphology < 10 mm: category 2"
    table = {"growing": _SOLID_GROWING, "new": _SOLID_NEW}.get(stage, _SOLID_BASELINE)
    category = _band(size, *table)
    basis = (
        "baseline size rules (no prior category)" if stage == "stable" else f"{stage} solid rule"
    )
    return category, f"{where}; {basis}: category {category}"


def _size_band(m: LesionMeasurement, kind: NoduleType | None) -> int | None:
    """Index of the baseline size band the measurement falls in (None if unknown)."""
    size = mean_diameter(m)
    if kind is NoduleType.GROUND_GLASS:
        return int(size >= GROUND_GLASS_MAX_MM)
    if kind is NoduleType.PART_SOLID:
        if m.solid_component_mm is None:
            return None
        return 0 if size < 6.0 else 1 + sum(_solid_mm(m) >= v for v in (6.0, 8.0))
    return sum(size >= v for v in (6.0, 8.0, 15.0))


def _crossed_threshold(nodule: LungRadsNodule) -> bool:
    # v2022 size thresholds "apply to nodules at first detection and that enlarge,
    # reaching a higher size category ... even if not meeting the definition of
    # growth, the nodule should be reclassified based on size".
    prior, kind = nodule.prior, nodule.current.nodule_type
    if prior is None or prior.nodule_type not in (None, kind):
        return False
    now, before = _size_band(nodule.current, kind), _size_band(prior, kind)
    return now is not None and before is not None and now > before


def _airway(airway: AirwayNodule, stage: str) -> tuple[str, str]:
    # v2022: subsegmental "at baseline, new, or stable" -> 2; segmental or more
    # proximal "at baseline or new" -> 4A, "stable or growing" -> 4B. A growing
    # subsegmental one is not in the table: kept at 2 (our reading; 4X is the
    # reader's where it looks suspicious).
    where = f"{stage} airway nodule, {airway.value}"
    if airway is AirwayNodule.SUBSEGMENTAL:
        return "2", f"{where}: category 2"
    category = "4A" if stage in ("baseline", "new") else "4B"
    return category, f"{where}: category {category}"


def _interval_note(nodule: LungRadsNodule) -> str:
    months = nodule.months_since_prior
    if months is not None and months > GROWTH_MONTHS:
        return f" over {months:.0f} months (slow growth, rule names 12 months)"
    return ""


def _ground_glass(nodule: LungRadsNodule, size: float, stage: str, where: str) -> tuple[str, str]:
    if size < GROUND_GLASS_MAX_MM:
        return "2", f"{where}; ground-glass < 30 mm at baseline, new or growing: category 2"
    if stage in ("baseline", "new"):
        return "3", f"{where}; ground-glass >= 30 mm at baseline or new: category 3"
    months = nodule.months_since_prior
    if stage == "growing" and (months is None or months <= GROWTH_MONTHS):
        return "3", (
            f"{where}; ground-glass grew > 1.5 mm within 12 months to >= 30 mm, neither "
            "stable nor slowly growing: category 3"
        )
    return "2", f"{where}; ground-glass >= 30 mm stable or slowly growing: category 2"


def _part_solid(size: float, solid: float, stage: str, where: str) -> tuple[str, str]:
    where = f"{where}, solid component {solid:.1f} mm"
    if stage == "new" and size < 6.0:
        return "3", f"{where}; new part-solid < 6 mm total: category 3"
    if size < 6.0 and stage != "growing":
        return "2", f"{where}; part-solid < 6 mm total: category 2"
    if stage in ("new", "growing"):
        category = _band(solid, *_PART_SOLID_NEW_OR_GROWING)
        return category, f"{where}; {stage} solid component rule: category {category}"
    category = _band(solid, *_PART_SOLID_BASELINE)
    return category, f"{where}; part-solid >= 6 mm by solid component: category {category}"


# Management by exam category (Lung-RADS v2022), with the estimated malignancy risk.
_MANAGEMENT: dict[str, tuple[str, FollowUpInterval | None]] = {
    "1": (
        "Continue annual screening with LDCT in 12 months (risk < 1 %)",
        FollowUpInterval(12, 12),
    ),
    "2": (
        "Continue annual screening with LDCT in 12 months (risk < 1 %)",
        FollowUpInterval(12, 12),
    ),
    "3": ("LDCT in 6 months (risk 1-2 %)", FollowUpInterval(6, 6)),
    "4A": (
        "LDCT in 3 months; PET/CT may be considered if there is a solid nodule or solid "
        "component >= 8 mm (risk 5-15 %)",
        FollowUpInterval(3, 3),
    ),
    "4B": (
        "Referral for further clinical evaluation: diagnostic chest CT with or without "
        "contrast, PET/CT if there is a solid component >= 8 mm, tissue sampling (risk > 15 %)",
        None,
    ),
    "4X": (
        "Referral for further clinical evaluation: diagnostic chest CT with or without "
        "contrast, PET/CT if there is a solid component >= 8 mm, tissue sampling (risk > 15 %)",
        None,
    ),
}


def _incomplete(exam: LungRadsExam, reason: Category0Reason) -> GuidelineResult:
    if reason is Category0Reason.INFECTION_INFLAMMATION:
        text, interval = "LDCT in 1-3 months", FollowUpInterval(1, 3)
    else:
        text = "Additional screening CT images and/or comparison to prior chest CT needed"
        interval = None
    earliest, latest = due_dates(exam.exam_date, interval)
    category = "0S" if exam.significant_other_findings else "0"
    return GuidelineResult(
        guideline=GUIDELINE,
        category=category,
        recommendation=text,
        rule_fired=f"{GUIDELINE} category 0 (incomplete): {reason.value}",
        interval=interval,
        next_exam_date=earliest,
        next_exam_latest=latest,
        inputs={"exam_date": exam.exam_date, "incomplete": reason.value},
    )


def lung_rads(exam: LungRadsExam) -> GuidelineResult:
    """Lung-RADS v2022 category of a screening exam: the highest nodule category.

    Example:
        >>> exam = LungRadsExam(date(2025, 3, 10), (LungRadsNodule(LesionMeasurement(
        ...     lesion_id="n1", long_axis_mm=7.0, short_axis_mm=6.0, nodule_type="solid")),))
        >>> r = lung_rads(exam)
        >>> r.category, r.next_exam_date
        ('3', datetime.date(2025, 9, 10))
    """
    if exam.incomplete is not None:
        return _incomplete(exam, exam.incomplete)
    results = [classify_nodule(n, baseline_round=exam.baseline_round) for n in exam.nodules]
    if results:
        worst = max(results, key=lambda r: ORDER.index(r.category))
        category, rule = worst.category, f"{worst.lesion_id}: {worst.rule}"
    else:
        category, rule = "1", f"{GUIDELINE}: no lung nodules: category 1"
    text, interval = _MANAGEMENT[category]
    earliest, latest = due_dates(exam.exam_date, interval)
    notes = sorted({r.management_note for r in results if r.category == category} - {""})
    if notes:
        text += "; " + "; ".join(notes)
    suffix = "S" if exam.significant_other_findings else ""
    if suffix:
        text += "; S: significant other finding, manage as clinically appropriate"
    return GuidelineResult(
        guideline=GUIDELINE,
        category=category + suffix,
        recommendation=text,
        rule_fired=rule,
        interval=interval,
        next_exam_date=earliest,
        next_exam_latest=latest,
        inputs={
            "exam_date": exam.exam_date,
            "baseline_round": exam.baseline_round,
            "nodules": [f"{r.lesion_id}: {r.category} ({r.mean_mm:.1f} mm)" for r in results],
            "prior_categories": {
                n.current.lesion_id: n.prior_category
                for n in exam.nodules
                if n.prior_category is not None
            },
            "S": exam.significant_other_findings,
        },
    )
