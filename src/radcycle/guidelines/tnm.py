"""TNM 8th edition, lung: clinical T category from imaging (IASLC; Detterbeck et al., Chest 2017).

Imaging alone gives a *clinical* category (cT), and every result says
"cTNM, imaging only". T from the largest tumour dimension (for a part-solid
nodule, the solid component, which stands for the invasive part):

=======  ==========================
T1a      <= 10 mm
T1b      > 10 to 20 mm
T1c      > 20 to 30 mm
T2a      > 30 to 40 mm
T2b      > 40 to 50 mm
T3       > 50 to 70 mm
T4       > 70 mm
=======  ==========================

Other descriptors raise T (inputs, :class:`TDescriptor`): T2 for visceral pleural
invasion, main bronchus involvement, or atelectasis / obstructive pneumonitis to
the hilum; T3 for a separate nodule in the same lobe or invasion of the chest
wall, parietal pleura, phrenic nerve or parietal pericardium; T4 for a separate
nodule in another ipsilateral lobe or invasion of the diaphragm, mediastinum,
heart, great vessels, trachea, recurrent laryngeal nerve, oesophagus, vertebral
body or carina.

Subsolid tumours (IASLC proposals for coding T categories for subsolid nodules,
Travis et al., J Thorac Oncol 2016;11:1204-1223, adopted by TNM 8): a pure
ground-glass nodule <= 3 cm is cTis; a part-solid nodule with a solid part
<= 5 mm and a total size <= 3 cm is cT1mi; otherwise T is set by the size of the
solid part (a pure ground-glass nodule > 3 cm, with no solid part, is cT1a). These
are clinical categories from imaging; pathology (AIS, MIA) decides pTis / pT1mi.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from radcycle.domain.findings import LesionMeasurement, NoduleType, parse_enum
from radcycle.errors import InputError
from radcycle.guidelines.results import GuidelineResult

__all__ = ["GUIDELINE", "TDescriptor", "t_category", "t_from_size"]

GUIDELINE = "TNM 8 (lung), cTNM imaging only"
ORDER = ("Tis", "T1mi", "T1a", "T1b", "T1c", "T2a", "T2b", "T3", "T4")
# TNM 8 lung T by size: upper bound in mm (inclusive) -> category.
_SIZE_BANDS = (
    (10.0, "T1a"),
    (20.0, "T1b"),
    (30.0, "T1c"),
    (40.0, "T2a"),
    (50.0, "T2b"),
    (70.0, "T3"),
)
# IASLC (Travis et al. 2016): cTis pure ground-glass <= 3 cm; cT1mi solid part
# <= 5 mm with total <= 3 cm.
_T1MI_SOLID_MM = 5.0
_SUBSOLID_TOTAL_MM = 30.0
_EPS = 1e-9


class TDescriptor(StrEnum):
    """Non-size findings that set a minimum T (TNM 8 lung)."""

    VISCERAL_PLEURA = "visceral pleural invasion"
    MAIN_BRONCHUS = "main bronchus involvement"
    ATELECTASIS_TO_HILUM = "atelectasis or obstructive pneumonitis to the hilum"
    SEPARATE_NODULE_SAME_LOBE = "separate tumour nodule in the same lobe"
    CHEST_WALL = "invasion of chest wall, parietal pleura, phrenic nerve or parietal pericardium"
    SEPARATE_NODULE_OTHER_IPSILATERAL_LOBE = (
        "separate tumour nodule in a different ipsilateral lobe"
    )
    MEDIASTINAL_INVASION = (
        "invasion of diaphragm, mediastinum, heart, great vessels, trachea, recurrent "
        "laryngeal nerve, oesophagus, vertebral body or carina"
    )


_DESCRIPTOR_T = {
    TDescriptor.VISCERAL_PLEURA: "T2a",
    TDescriptor.MAIN_BRONCHUS: "T2a",
    TDescriptor.ATELECTASIS_TO_HILUM: "T2a",
    TDescriptor.SEPARATE_NODULE_SAME_LOBE: "T3",
    TDescriptor.CHEST_WALL: "T3",
    TDescriptor.SEPARATE_NODULE_OTHER_IPSILATERAL_LOBE: "T4",
    TDescriptor.MEDIASTINAL_INVASION: "T4",
}


def t_from_size(size_mm: float) -> str:
    """T category from the largest dimension in mm (TNM 8 lung).

    Example:
        >>> [t_from_size(v) for v in (10.0, 10.1, 30.0, 70.0, 70.1)]
        ['T1a', 'T1b', 'T1c', 'T3', 'T4']
    """
    if not size_mm > 0:
        raise InputError("tumour size must be > 0 mm", value=size_mm)
    for upper, category in _SIZE_BANDS:
        if size_mm <= upper + 1e-9:
            return category
    return "T4"


def _t_by_size(tumour: LesionMeasurement) -> tuple[str, str]:
    """T from size, with the IASLC subsolid rules; the category and why."""
    total = tumour.long_axis_mm or 0.0
    kind = tumour.nodule_type
    small = total <= _SUBSOLID_TOTAL_MM + _EPS
    if kind is NoduleType.GROUND_GLASS:
        if small:
            return "Tis", f"pure ground-glass nodule {total:.1f} mm <= 30 mm -> Tis (IASLC)"
        return "T1a", (
            f"pure ground-glass nodule {total:.1f} mm > 30 mm: T by the solid part, "
            "none -> T1a (IASLC)"
        )
    if kind is NoduleType.PART_SOLID and tumour.solid_component_mm is not None:
        solid = tumour.solid_component_mm
        if solid <= _T1MI_SOLID_MM + _EPS and small:
            return "T1mi", (
                f"part-solid, solid part {solid:.1f} mm <= 5 mm and total {total:.1f} mm "
                "<= 30 mm -> T1mi (IASLC)"
            )
        by_solid = t_from_size(solid) if solid > 0 else "T1a"
        return by_solid, f"part-solid: solid part (invasive size) {solid:.1f} mm -> {by_solid}"
    return t_from_size(total), f"largest dimension {total:.1f} mm -> {t_from_size(total)}"


def t_category(
    tumour: LesionMeasurement, descriptors: Iterable[TDescriptor | str] = ()
) -> GuidelineResult:
    """Clinical T category of a lung tumour from imaging.

    T2 descriptors (visceral pleura, main bronchus, atelectasis) make a tumour of
    <= 30 mm T2a, and leave a larger tumour at its size category (T2a or T2b),
    following TNM 8.

    Example:
        >>> m = LesionMeasurement(lesion_id="T", long_axis_mm=25.0, short_axis_mm=18.0)
        >>> t_category(m, ["separate tumour nodule in the same lobe"]).category
        'cT3'
    """
    if tumour.long_axis_mm is None:
        raise InputError(f"{tumour.lesion_id}: TNM T category needs the largest dimension")
    found = [parse_enum(TDescriptor, d, "T descriptor") for d in descriptors]
    by_size, basis = _t_by_size(tumour)
    category, reasons = by_size, [basis]
    for descriptor in found:
        minimum = _DESCRIPTOR_T[descriptor]
        if ORDER.index(minimum) > ORDER.index(category):
            category = minimum
        reasons.append(f"{descriptor.value} -> at least {minimum}")
    rule = "; ".join(reasons)
    return GuidelineResult(
        guideline=GUIDELINE,
        category=f"c{category}",
        recommendation="clinical staging from imaging; confirm with pathology and N/M staging",
        rule_fired=f"TNM 8 lung T (IASLC, Detterbeck et al. 2017): {rule}; cTNM, imaging only",
        inputs={
            "largest_dimension_mm": tumour.long_axis_mm,
            "solid_component_mm": tumour.solid_component_mm,
            "nodule_type": None if tumour.nodule_type is None else tumour.nodule_type.value,
            "descriptors": [d.value for d in found],
        },
    )
