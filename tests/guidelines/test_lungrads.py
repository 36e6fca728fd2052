"""Lung-RADS v2022 worked examples at the size and growth boundaries."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radcycle.domain import LesionMeasurement
from radcycle.errors import InputError
from radcycle.guidelines.lungrads import (
    ORDER,
    Category0Reason,
    LungRadsExam,
    LungRadsNodule,
    NoduleFeature,
    classify_nodule,
    lung_rads,
    mean_diameter,
)

EXAM = date(2025, 3, 10)


def nod(
    size: float, kind: str = "solid", solid: float | None = None, lid: str = "n"
) -> LesionMeasurement:
    """A nodule whose long and short axes are both ``size`` (mean = size)."""
    return LesionMeasurement(
        lesion_id=lid,
        long_axis_mm=size,
        short_axis_mm=size,
        nodule_type=kind,
        solid_component_mm=solid,
    )


def cat(nodule: LungRadsNodule, baseline_round: bool = True) -> str:
    return classify_nodule(nodule, baseline_round=baseline_round).category


@pytest.mark.parametrize(
    ("size", "expected"),
    [(5.9, "2"), (6.0, "3"), (7.9, "3"), (8.0, "4A"), (14.9, "4A"), (15.0, "4B")],
)
def test_solid_baseline_boundaries(size: float, expected: str) -> None:
    assert cat(LungRadsNodule(nod(size))) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [(3.9, "2"), (4.0, "3"), (5.9, "3"), (6.0, "4A"), (7.9, "4A"), (8.0, "4B")],
)
def test_solid_new_boundaries(size: float, expected: str) -> None:
    assert cat(LungRadsNodule(nod(size)), baseline_round=False) == expected


@pytest.mark.parametrize(
    ("prior", "now", "expected"),
    [
        # +1.5 mm is not growth, but 6.5 mm crosses the 6 mm threshold: v2022
        # reclassifies by size even without growth -> 3
        (5.0, 6.5, "3"),
        (5.0, 6.6, "4A"),  # +1.6 mm is growth, < 8 mm
        (7.0, 8.6, "4B"),  # growing >= 8 mm
    ],
)
def test_growth_threshold(prior: float, now: float, expected: str) -> None:
    n = LungRadsNodule(nod(now), prior=nod(prior), months_since_prior=12, prior_category="2")
    assert cat(n, baseline_round=False) == expected


def test_mean_diameter_rounds_half_up_to_tenth() -> None:
    m = LesionMeasurement(lesion_id="n", long_axis_mm=6.3, short_axis_mm=5.6, nodule_type="solid")
    assert mean_diameter(m) == 6.0  # 5.95 -> 6.0, so category 3, not 2
    assert cat(LungRadsNodule(m)) == "3"


def test_stepped_management_of_stable_nodules() -> None:
    stable_4a = LungRadsNodule(nod(9.0), prior=nod(9.0), months_since_prior=3, prior_category="4A")
    assert cat(stable_4a, baseline_round=False) == "3"
    stable_3 = LungRadsNodule(nod(7.0), prior=nod(7.0), months_since_prior=6, prior_category="3")
    assert cat(stable_3, baseline_round=False) == "2"
    # Without a prior category it is derived from the prior exam (7 mm: 3), so
    # the stable nodule steps down to 2 (v2022 stepped management).
    unknown = LungRadsNodule(nod(7.0), prior=nod(7.0), months_since_prior=12)
    assert cat(unknown, baseline_round=False) == "2"


@pytest.mark.parametrize(
    ("total", "solid", "expected"),
    [(5.9, 5.0, "2"), (6.0, 5.9, "3"), (10.0, 6.0, "4A"), (10.0, 7.9, "4A"), (10.0, 8.0, "4B")],
)
def test_part_solid_baseline(total: float, solid: float, expected: str) -> None:
    assert cat(LungRadsNodule(nod(total, "part-solid", solid))) == expected


@pytest.mark.parametrize(
    ("total", "solid", "expected"), [(5.9, 2.0, "3"), (8.0, 3.9, "4A"), (8.0, 4.0, "4B")]
)
def test_part_solid_new(total: float, solid: float, expected: str) -> None:
    assert cat(LungRadsNodule(nod(total, "part-solid", solid)), baseline_round=False) == expected


def test_part_solid_growing_solid_component() -> None:
    grown = LungRadsNodule(nod(12.0, "part-solid", 4.6), prior=nod(12.0, "part-solid", 3.0))
    assert cat(grown, baseline_round=False) == "4B"
    small = LungRadsNodule(nod(5.5, "part-solid", 3.5), prior=nod(5.0, "part-solid", 1.5))
    assert cat(small, baseline_round=False) == "4A"  # growing solid part, whatever the total
    from_ggn = LungRadsNodule(nod(12.0, "part-solid", 3.0), prior=nod(12.0, "ground-glass"))
    assert cat(from_ggn, baseline_round=False) == "4A"


@pytest.mark.parametrize(("size", "expected"), [(29.9, "2"), (30.0, "3")])
def test_ground_glass(size: float, expected: str) -> None:
    assert cat(LungRadsNodule(nod(size, "ground-glass"))) == expected
    stable = LungRadsNodule(nod(size, "ground-glass"), prior=nod(size, "ground-glass"))
    assert cat(stable, baseline_round=False) == "2"


@pytest.mark.parametrize(("size", "expected"), [(9.9, "2"), (10.0, "4A")])
def test_juxtapleural_rule(size: float, expected: str) -> None:
    n = LungRadsNodule(nod(size), features=frozenset({NoduleFeature.JUXTAPLEURAL_BENIGN}))
    assert cat(n) == expected


def test_benign_features_and_4x() -> None:
    assert (
        cat(
            LungRadsNodule(
                nod(20.0), features=frozenset({NoduleFeature.BENIGN_CALCIFICATION_OR_FAT})
            )
        )
        == "1"
    )
    assert cat(LungRadsNodule(nod(7.0), features=frozenset({NoduleFeature.SUSPICIOUS}))) == "4X"
    assert cat(LungRadsNodule(nod(4.0), features=frozenset({NoduleFeature.SUSPICIOUS}))) == "2"


def test_exam_takes_highest_category_with_dates() -> None:
    exam = LungRadsExam(
        EXAM, (LungRadsNodule(nod(4.0, lid="a")), LungRadsNodule(nod(9.0, lid="b")))
    )
    result = lung_rads(exam)
    assert result.category == "4A"
    assert result.next_exam_date == date(2025, 6, 10)
    assert result.rule_fired.startswith("b: Lung-RADS v2022")
    assert lung_rads(LungRadsExam(EXAM)).category == "1"
    assert lung_rads(LungRadsExam(EXAM)).next_exam_date == date(2026, 3, 10)
    big = lung_rads(LungRadsExam(EXAM, (LungRadsNodule(nod(16.0)),)))
    assert big.category == "4B"
    assert big.next_exam_date is None


def test_category_0_and_s_modifier() -> None:
    infection = lung_rads(LungRadsExam(EXAM, incomplete=Category0Reason.INFECTION_INFLAMMATION))
    assert infection.category == "0"
    assert (infection.next_exam_date, infection.next_exam_latest) == (
        date(2025, 4, 10),
        date(2025, 6, 10),
    )
    locating = lung_rads(LungRadsExam(EXAM, incomplete=Category0Reason.PRIOR_BEING_LOCATED))
    assert locating.next_exam_date is None
    s = lung_rads(LungRadsExam(EXAM, (LungRadsNodule(nod(7.0)),), significant_other_findings=True))
    assert s.category == "3S"


def test_inputs_are_checked() -> None:
    with pytest.raises(InputError, match="nodule type"):
        LungRadsNodule(LesionMeasurement(lesion_id="x", long_axis_mm=5.0))
    with pytest.raises(InputError, match="solid_component_mm"):
        cat(LungRadsNodule(nod(8.0, "part-solid")))
    with pytest.raises(InputError, match="prior Lung-RADS"):
        LungRadsNodule(nod(5.0), prior_category="5")


@settings(max_examples=200, deadline=None)
@given(a=st.floats(1.0, 40.0), b=st.floats(1.0, 40.0), new=st.booleans())
def test_solid_category_is_monotone_in_size(a: float, b: float, new: bool) -> None:
    small, large = sorted((a, b))
    c_small = cat(LungRadsNodule(nod(small)), baseline_round=not new)
    c_large = cat(LungRadsNodule(nod(large)), baseline_round=not new)
    assert ORDER.index(c_small) <= ORDER.index(c_large)
