"""Brock (PanCan) probability that a lung nodule is malignant.

McWilliams et al., "Probability of cancer in pulmonary nodules detected on first
screening CT", N Engl J Med 2013;369:910-919: the full model with spiculation
(model 2b; Table 3 of the paper and its Supplementary Appendix). Logistic model:

    logit = -6.7892
            + 0.0287 * (age - 62)
            + 0.6011 * female
            + 0.2961 * family history of lung cancer
            + 0.2953 * emphysema
            - 5.3854 * ((size / 10) ** -0.5 - 1.58113883)
            + 0.3770 * part-solid   (or -0.1276 * non-solid / ground-glass)
            + 0.6581 * upper lobe
            - 0.0824 * (nodule count - 4)
            + 0.7729 * spiculation
    probability = 1 / (1 + exp(-logit))

Size is the nodule's maximum diameter in mm; the centring constants are age 62,
size 4 mm (1.58113883 = (4 / 10) ** -0.5) and 4 nodules. Expanding the centring
gives the uncentred intercept 0.2761 (-6.7892 - 0.0287*62 + 5.3854*1.58113883 +
0.0824*4), the form some later tables print; the tests check both agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from radcycle.domain.findings import NoduleType, parse_enum
from radcycle.errors import InputError
from radcycle.guidelines.results import GuidelineResult

__all__ = [
    "COEFFICIENTS",
    "GUIDELINE",
    "BrockInputs",
    "brock_assessment",
    "brock_logit",
    "brock_probability",
]

GUIDELINE = "Brock (PanCan) full model 2b"


@dataclass(frozen=True)
class _Coefficients:
    intercept: float = -6.7892
    age: float = 0.0287
    age_centre: float = 62.0
    female: float = 0.6011
    family_history: float = 0.2961
    emphysema: float = 0.2953
    size: float = -5.3854
    size_centre: float = 1.58113883  # (4 mm / 10) ** -0.5
    part_solid: float = 0.3770
    non_solid: float = -0.1276
    upper_lobe: float = 0.6581
    count: float = -0.0824
    count_centre: float = 4.0
    spiculation: float = 0.7729


COEFFICIENTS = _Coefficients()
# British Thoracic Society 2015: Brock >= 10 % -> PET-CT; below, CT surveillance.
BTS_THRESHOLD = 0.10


@dataclass(frozen=True)
class BrockInputs:
    """The model's predictors.

    Args:
        age: years.
        female: sex is female.
        family_history: lung cancer in a first-degree relative.
        emphysema: emphysema on CT.
        size_mm: maximum nodule diameter (mm), 1 to 100.
        nodule_type: solid, part-solid or ground-glass (non-solid).
        upper_lobe: nodule in an upper lobe.
        nodule_count: number of nodules on the scan (>= 1).
        spiculation: spiculated margin.
    """

    age: float
    female: bool
    family_history: bool
    emphysema: bool
    size_mm: float
    nodule_type: NoduleType
    upper_lobe: bool
    nodule_count: int
    spiculation: bool

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "nodule_type", parse_enum(NoduleType, self.nodule_type, "nodule_type")
        )
        if not 1.0 <= self.size_mm <= 100.0:
            raise InputError("Brock model nodule size must be 1-100 mm", value=self.size_mm)
        if self.nodule_count < 1:
            raise InputError("nodule count must be >= 1", value=self.nodule_count)
        if not 0 < self.age < 120:
            raise InputError("age must be between 0 and 120 years", value=self.age)


def brock_logit(x: BrockInputs, c: _Coefficients = COEFFICIENTS) -> float:
    """Linear predictor of the full model with spiculation (McWilliams 2013, model 2b)."""
    type_term = {
        NoduleType.SOLID: 0.0,
        NoduleType.PART_SOLID: c.part_solid,
        NoduleType.GROUND_GLASS: c.non_solid,
    }[x.nodule_type]
    return (
        c.intercept
        + c.age * (x.age - c.age_centre)
        + c.female * x.female
        + c.family_history * x.family_history
        + c.emphysema * x.emphysema
        + c.size * (1.0 / math.sqrt(x.size_mm / 10.0) - c.size_centre)
        + type_term
        + c.upper_lobe * x.upper_lobe
        + c.count * (x.nodule_count - c.count_centre)
        + c.spiculation * x.spiculation
    )


def brock_probability(x: BrockInputs) -> float:
    """Probability of malignancy, 0 to 1.

    Example (the model's reference patient: 62 years, male, 4 mm solid lower-lobe
    nodule, 4 nodules, nothing else):
        >>> x = BrockInputs(62, False, False, False, 4.0, NoduleType.SOLID, False, 4, False)
        >>> round(brock_probability(x), 5)
        0.00112
    """
    return 1.0 / (1.0 + math.exp(-brock_logit(x)))


def brock_assessment(x: BrockInputs) -> GuidelineResult:
    """The Brock probability as a citable result, with the BTS 2015 10 % threshold."""
    p = brock_probability(x)
    if p >= BTS_THRESHOLD:
        band, text = ">= 10 %", "Consider PET-CT (BTS 2015: Brock >= 10 %)"
    else:
        band, text = "< 10 %", "CT surveillance (BTS 2015: Brock < 10 %)"
    return GuidelineResult(
        guideline=GUIDELINE,
        category=f"{p * 100:.1f} % ({band})",
        recommendation=text,
        rule_fired=(
            f"McWilliams et al. NEJM 2013, full model with spiculation (model 2b): "
            f"probability {p * 100:.1f} %"
        ),
        inputs={
            "age": x.age,
            "female": x.female,
            "family_history": x.family_history,
            "emphysema": x.emphysema,
            "size_mm": x.size_mm,
            "nodule_type": x.nodule_type.value,
            "upper_lobe": x.upper_lobe,
            "nodule_count": x.nodule_count,
            "spiculation": x.spiculation,
            "probability": p,
        },
    )
