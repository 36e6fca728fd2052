"""RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228-247) as pure functions.

The steps, each a function a caller can use on its own:

1. :func:`measurability`: measurable lesion, pathological or normal node (section 3.1).
2. :func:`select_targets`: baseline targets (at most 5, at most 2 per organ, largest
   and reproducible first) and non-targets, or the radiologist's own choice
   (section 4.2).
3. :func:`sum_of_diameters`: long axes of non-nodal plus short axes of nodal targets.
4. In :mod:`radcycle.guidelines.recist_response`: target, non-target and new-lesion
   assessment at one follow-up (sections 4.3.1 to 4.3.5) and the time-point table
   (section 4.4.1, Table 1; Table 2 for non-target disease only).
5. In :mod:`radcycle.guidelines.recist_series`: all follow-ups in order, nadir
   tracking, best overall response with optional confirmation (section 4.4.3,
   Table 3), and iRECIST when the treatment is immunotherapy
   (:mod:`radcycle.guidelines.irecist`).

The project summary calls the time-point table "table 4" (and "table 5" for
non-target disease only); in the 2009 paper they are Tables 1 and 2 of section 4.4.1.

Nothing here reads files or the clock: dates are inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from radcycle.domain.findings import LesionMeasurement, LesionStatus
from radcycle.errors import InputError

__all__ = [
    "GUIDELINE",
    "Measurability",
    "RecistBaseline",
    "combine_fragments",
    "lesion_diameter",
    "measurability",
    "organ_key",
    "percent_change",
    "select_targets",
    "sum_of_diameters",
    "volume_sum",
]

GUIDELINE = "RECIST 1.1"

# Section 3.1: CT measurable >= 10 mm (or 2x slice thickness when slices > 5 mm).
MIN_MEASURABLE_MM = 10.0
MAX_SLICE_FOR_10MM = 5.0
# Section 3.1: nodes by short axis: >= 15 mm measurable, 10 to < 15 pathological.
NODE_MEASURABLE_MM = 15.0
NODE_PATHOLOGICAL_MM = 10.0
# Section 4.2: at most 5 targets in total, 2 per organ.
MAX_TARGETS = 5
MAX_TARGETS_PER_ORGAN = 2
# RECIST 1.1 working group clarifications: "nodes are considered to be one organ".
NODE_ORGAN = "lymph nodes"
# Section 4.3.1: PR -30 % from baseline; PD +20 % over nadir and +5 mm absolute.
PR_CHANGE_PCT = -30.0
PD_CHANGE_PCT = 20.0
PD_ABSOLUTE_MM = 5.0
# Section 4.3.2: a lesion too small to measure counts 5 mm; a lesion gone counts 0 mm.
TOO_SMALL_MM = 5.0
# Float sums such as 0.1 + 0.2 must not move a case across an exact edge (-30.0 %).
TOLERANCE = 1e-9


class Measurability(StrEnum):
    """Baseline class of a lesion (RECIST 1.1 section 3.1)."""

    MEASURABLE = "measurable"
    NON_MEASURABLE = "non-measurable"
    PATHOLOGICAL_NODE = "pathological node, non-target"
    NORMAL_NODE = "normal node"


def measurability(lesion: LesionMeasurement, slice_thickness_mm: float = 5.0) -> Measurability:
    """Classify a baseline lesion (RECIST 1.1 section 3.1).

    Non-nodal: measurable when the long axis is >= 10 mm on CT with slices of at
    most 5 mm, otherwise >= 2x the slice thickness. Nodes, by short axis: >= 15 mm
    measurable, 10 to < 15 mm pathological (non-target), < 10 mm normal.

    Example:
        >>> node = LesionMeasurement(lesion_id="N1", is_lymph_node=True,
        ...                          long_axis_mm=20.0, short_axis_mm=14.9)
        >>> measurability(node).value
        'pathological node, non-target'
    """
    if slice_thickness_mm <= 0:
        raise InputError("slice thickness must be > 0 mm", value=slice_thickness_mm)
    if lesion.status is not LesionStatus.MEASURED:
        return Measurability.NON_MEASURABLE
    if lesion.is_lymph_node:
        short = lesion.short_axis_mm
        if short is None:
            raise InputError(f"{lesion.lesion_id}: a lymph node needs its short axis")
        if short >= NODE_MEASURABLE_MM - TOLERANCE:
            return Measurability.MEASURABLE
        if short >= NODE_PATHOLOGICAL_MM - TOLERANCE:
            return Measurability.PATHOLOGICAL_NODE
        return Measurability.NORMAL_NODE
    minimum = (
        MIN_MEASURABLE_MM if slice_thickness_mm <= MAX_SLICE_FOR_10MM else 2.0 * slice_thickness_mm
    )
    long = lesion.long_axis_mm
    if long is not None and long >= minimum - TOLERANCE:
        return Measurability.MEASURABLE
    return Measurability.NON_MEASURABLE


def lesion_diameter(lesion: LesionMeasurement) -> float | None:
    """The lesion's contribution to the sum of diameters, or None if unknown.

    Short axis for nodes, long axis otherwise (section 4.2); 5 mm when too small
    to measure and 0 mm when gone (section 4.3.2); 0 mm for a lesion that merged
    into another, whose diameter then covers both (section 4.3.2, lesions that
    coalesce).

    Example:
        >>> lesion_diameter(LesionMeasurement(lesion_id="L", status="too small to measure"))
        5.0
    """
    status = lesion.status
    if lesion.merged_into and status is not LesionStatus.NOT_EVALUATED:
        return 0.0
    if status is LesionStatus.TOO_SMALL_TO_MEASURE:
        return TOO_SMALL_MM
    if status is LesionStatus.DISAPPEARED:
        return 0.0
    if status is not LesionStatus.MEASURED:
        return None
    return lesion.short_axis_mm if lesion.is_lymph_node else lesion.long_axis_mm


def sum_of_diameters(lesions: Iterable[LesionMeasurement]) -> float | None:
    """Sum of diameters (section 4.2), or None when any lesion lacks a diameter.

    Example:
        >>> sum_of_diameters([LesionMeasurement(lesion_id="a", long_axis_mm=31.0),
        ...                   LesionMeasurement(lesion_id="n", is_lymph_node=True,
        ...                                     long_axis_mm=25.0, short_axis_mm=16.0)])
        47.0
    """
    total = 0.0
    for lesion in lesions:
        value = lesion_diameter(lesion)
        if value is None:
            return None
        total += value
    return total


def combine_fragments(lesions: Iterable[LesionMeasurement]) -> tuple[LesionMeasurement, ...]:
    """Add each fragment of a split lesion to the lesion it split from.

    RECIST 1.1 section 4.3.2 (lesions that split or coalesce): "when non-nodal
    lesions 'fragment', the longest diameters of the fragmented portions should be
    added together". A fragment names its origin in ``split_from``; the result has
    one record per origin, measured as the sum of the parts' diameters (not
    evaluated if any part is). Records without ``split_from`` pass unchanged.

    Example:
        >>> parts = [LesionMeasurement(lesion_id="a", long_axis_mm=12.0),
        ...          LesionMeasurement(lesion_id="a2", long_axis_mm=9.0, split_from="a")]
        >>> [(m.lesion_id, m.long_axis_mm) for m in combine_fragments(parts)]
        [('a', 21.0)]
    """
    items = tuple(lesions)
    out = {m.lesion_id: m for m in items if not m.split_from}
    for part in items:
        if part.split_from:
            out[part.split_from] = _joined(out.get(part.split_from), part)
    return tuple(out.values())


def _joined(whole: LesionMeasurement | None, part: LesionMeasurement) -> LesionMeasurement:
    if whole is None:
        return replace(part, lesion_id=part.split_from, split_from="", tracking_uid="")
    a, b = lesion_diameter(whole), lesion_diameter(part)
    fragments = (*whole.fragments, part.lesion_id)
    if a is None or b is None:
        return replace(whole, status=LesionStatus.NOT_EVALUATED, fragments=fragments)
    if a + b <= 0:
        return replace(whole, status=LesionStatus.DISAPPEARED, fragments=fragments)
    longs = [m.long_axis_mm for m in (whole, part) if m.status is LesionStatus.MEASURED]
    long = max(sum(v or 0.0 for v in longs), a + b)
    short = (a + b) if whole.is_lymph_node else whole.short_axis_mm
    if not whole.is_lymph_node and short is not None and short > long:
        short = long
    volumes = [m.volume_mm3 for m in (whole, part)]
    volume = None if None in volumes else sum(v or 0.0 for v in volumes)
    return replace(
        whole,
        long_axis_mm=long,
        short_axis_mm=short,
        volume_mm3=volume,
        status=LesionStatus.MEASURED,
        fragments=fragments,
    )


def percent_change(value: float, reference: float) -> float | None:
    """Change from ``reference`` in percent; None where the reference is 0 mm."""
    if reference <= 0:
        return None
    return (value - reference) / reference * 100.0


@dataclass(frozen=True)
class RecistBaseline:
    """The baseline of a RECIST 1.1 assessment.

    Args:
        exam_date: date of the baseline exam.
        targets: target lesions (their baseline measurements).
        non_targets: all other disease sites, followed qualitatively.
        notes: why lesions were or were not chosen (for the report).
        excluded: lesions recorded at baseline but not followed (normal nodes,
            lesions not seen); they are never counted as new later.
    """

    exam_date: date
    targets: tuple[LesionMeasurement, ...]
    non_targets: tuple[LesionMeasurement, ...] = ()
    notes: tuple[str, ...] = ()
    excluded: tuple[LesionMeasurement, ...] = ()

    def __post_init__(self) -> None:
        for name in ("targets", "non_targets", "notes", "excluded"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        ids = [m.lesion_id for m in (*self.targets, *self.non_targets, *self.excluded)]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise InputError("a lesion_id appears twice at baseline", value=duplicates)
        if self.targets and self.baseline_sum is None:
            raise InputError("every baseline target needs a measured diameter")

    @property
    def baseline_sum(self) -> float | None:
        """Baseline sum of diameters (None without targets)."""
        return sum_of_diameters(self.targets) if self.targets else None

    @property
    def baseline_volume(self) -> float | None:
        """Sum of target volumes, where every target has one (informative)."""
        return volume_sum(self.targets)


def _selection_key(lesion: LesionMeasurement) -> tuple[bool, float, str]:
    # Section 4.2: targets chosen by size, and those measurable reproducibly first.
    return (not lesion.reproducible, -(lesion_diameter(lesion) or 0.0), lesion.lesion_id)


def select_targets(
    lesions: Sequence[LesionMeasurement],
    exam_date: date,
    *,
    slice_thickness_mm: float = 5.0,
    chosen_target_ids: Sequence[str] | None = None,
) -> RecistBaseline:
    """Choose baseline targets and non-targets (RECIST 1.1 sections 3.1 and 4.2).

    Automatic choice: measurable lesions, reproducible ones first, then largest
    first, at most 5 in total and 2 per organ (all lymph nodes together are one
    organ); the best lesion of every involved organ is taken first, so that the
    targets represent all involved organs (up to 5 organs). ``chosen_target_ids`` is the
    radiologist's override: those lesions become the targets (each must be
    measurable and within the limits). Remaining measurable lesions and
    pathological nodes become non-targets; normal nodes (< 10 mm) and lesions that
    were not seen are left out.

    Example:
        >>> lesions = [LesionMeasurement(lesion_id=f"L{i}", organ="liver",
        ...            long_axis_mm=10.0 + i) for i in range(3)]
        >>> b = select_targets(lesions, date(2025, 1, 1))
        >>> [t.lesion_id for t in b.targets], [n.lesion_id for n in b.non_targets]
        (['L2', 'L1'], ['L0'])
    """
    classes = {m.lesion_id: measurability(m, slice_thickness_mm) for m in lesions}
    if chosen_target_ids is None:
        targets, notes = _auto_targets(lesions, classes)
    else:
        targets = _chosen_targets(lesions, classes, chosen_target_ids)
        notes = ["targets chosen by the radiologist (manual override)"]
    target_ids = {t.lesion_id for t in targets}
    non_targets, excluded = [], []
    for lesion in lesions:
        if lesion.lesion_id in target_ids:
            continue
        kind = classes[lesion.lesion_id]
        if kind is Measurability.NORMAL_NODE:
            notes.append(f"{lesion.lesion_id}: node short axis < 10 mm, normal (section 3.1)")
            excluded.append(lesion)
        elif lesion.status in (LesionStatus.DISAPPEARED, LesionStatus.NOT_EVALUATED):
            notes.append(f"{lesion.lesion_id}: not seen at baseline, left out")
            excluded.append(lesion)
        else:
            non_targets.append(lesion)
    return RecistBaseline(
        exam_date, tuple(targets), tuple(non_targets), tuple(notes), tuple(excluded)
    )


def organ_key(lesion: LesionMeasurement) -> str:
    """The organ a lesion counts in for the per-organ target limit.

    All lymph nodes are one organ, whatever their station (RECIST 1.1 section 4.2
    and the RECIST working group's questions and clarifications: "nodes are
    considered to be one organ. If there are multiple chains/regions, consider
    selecting one from each"), so at most two nodal targets in all.

    Example:
        >>> organ_key(LesionMeasurement(lesion_id="n", organ="hilum", is_lymph_node=True))
        'lymph nodes'
    """
    return NODE_ORGAN if lesion.is_lymph_node else lesion.organ.strip().lower()


def _auto_targets(
    lesions: Sequence[LesionMeasurement], classes: Mapping[str, Measurability]
) -> tuple[list[LesionMeasurement], list[str]]:
    # Section 4.2: targets "should be selected on the basis of their size ..., be
    # representative of all involved organs, but in addition should be those that
    # lend themselves to reproducible repeated measurements". First the best
    # lesion of every involved organ (organs in the order of their best lesion,
    # at most 5), then the remaining slots by size, at most 2 per organ.
    candidates = sorted(
        (m for m in lesions if classes[m.lesion_id] is Measurability.MEASURABLE),
        key=_selection_key,
    )
    best_of_organ: dict[str, LesionMeasurement] = {}
    for lesion in candidates:
        best_of_organ.setdefault(organ_key(lesion), lesion)
    chosen = {m.lesion_id for m in list(best_of_organ.values())[:MAX_TARGETS]}
    per_organ: dict[str, int] = {}
    for lesion in candidates:
        if lesion.lesion_id in chosen:
            per_organ[organ_key(lesion)] = per_organ.get(organ_key(lesion), 0) + 1
    notes: list[str] = []
    for lesion in candidates:
        organ = organ_key(lesion)
        if lesion.lesion_id in chosen:
            continue
        if len(chosen) >= MAX_TARGETS:
            notes.append(_crowded_note(lesion, candidates, chosen))
        elif per_organ.get(organ, 0) >= MAX_TARGETS_PER_ORGAN:
            notes.append(f"{lesion.lesion_id}: non-target, 2 targets in {organ or 'organ'}")
        else:
            chosen.add(lesion.lesion_id)
            per_organ[organ] = per_organ.get(organ, 0) + 1
    return [m for m in candidates if m.lesion_id in chosen], notes


def _crowded_note(
    lesion: LesionMeasurement, candidates: Sequence[LesionMeasurement], chosen: set[str]
) -> str:
    size = lesion_diameter(lesion) or 0.0
    smaller = any(
        m.lesion_id in chosen and (lesion_diameter(m) or 0.0) < size and m.reproducible
        for m in candidates
    )
    if smaller:
        return (
            f"{lesion.lesion_id}: non-target, a smaller lesion was taken to represent "
            "every involved organ (section 4.2)"
        )
    return f"{lesion.lesion_id}: non-target, 5 targets already (section 4.2)"


def _chosen_targets(
    lesions: Sequence[LesionMeasurement],
    classes: Mapping[str, Measurability],
    chosen: Sequence[str],
) -> list[LesionMeasurement]:
    by_id = {m.lesion_id: m for m in lesions}
    unknown = [i for i in chosen if i not in by_id]
    if unknown:
        raise InputError("chosen targets are not among the baseline lesions", value=unknown)
    if len(set(chosen)) > MAX_TARGETS:
        raise InputError("RECIST 1.1 allows at most 5 targets (section 4.2)", value=list(chosen))
    targets = [by_id[i] for i in dict.fromkeys(chosen)]
    for lesion in targets:
        if classes[lesion.lesion_id] is not Measurability.MEASURABLE:
            raise InputError(
                f"{lesion.lesion_id} cannot be a target: {classes[lesion.lesion_id].value}"
            )
    organs = [organ_key(t) for t in targets]
    crowded = sorted({o for o in organs if organs.count(o) > MAX_TARGETS_PER_ORGAN})
    if crowded:
        raise InputError(
            "RECIST 1.1 allows at most 2 targets per organ (all lymph nodes are one organ)",
            value=crowded,
        )
    return targets


def volume_sum(lesions: Sequence[LesionMeasurement]) -> float | None:
    total = 0.0
    for lesion in lesions:
        if lesion.status is LesionStatus.DISAPPEARED:
            continue
        if lesion.volume_mm3 is None:
            return None
        total += lesion.volume_mm3
    return total if lesions else None
