"""Fleischner 2017 worked examples: size bands, risk, multiplicity, exclusions."""

from __future__ import annotations

from datetime import date

import pytest

from radcycle.domain import LesionMeasurement
from radcycle.errors import InputError
from radcycle.guidelines.fleischner import FleischnerPatient, fleischner, fleischner_size

EXAM = date(2025, 1, 15)
LOW, HIGH = FleischnerPatient(age=60), FleischnerPatient(age=60, high_risk=True)


def nod(
    long: float,
    short: float | None = None,
    kind: str = "solid",
    lid: str = "n",
    solid: float | None = None,
):  # type: ignore[no-untyped-def]
    return LesionMeasurement(
        lesion_id=lid,
        long_axis_mm=long,
        short_axis_mm=long if short is None else short,
        nodule_type=kind,
        solid_component_mm=solid,
    )


@pytest.mark.parametrize(
    ("long", "short", "size"), [(6.0, 5.0, 6), (5.9, 5.0, 5), (8.4, 8.4, 8), (9.0, 8.0, 9)]
)
def test_size_is_average_rounded_half_up(long: float, short: float, size: int) -> None:
    assert fleischner_size(nod(long, short)) == size


@pytest.mark.parametrize(
    ("size", "patient", "text", "interval"),
    [
        (5.0, LOW, "No routine follow-up", None),
        (5.0, HIGH, "Optional CT at 12 months", (12, 12)),
        (6.0, LOW, "CT at 6-12 months, then consider CT at 18-24 months", (6, 12)),
        (8.0, HIGH, "CT at 6-12 months, then CT at 18-24 months", (6, 12)),
        (9.0, LOW, "Consider CT at 3 months, PET/CT, or tissue sampling", (3, 3)),
    ],
)
def test_single_solid(
    size: float, patient: FleischnerPatient, text: str, interval: tuple[int, int] | None
) -> None:
    result = fleischner([nod(size)], patient, EXAM)
    assert result.recommendation == text
    got = (
        None
        if result.interval is None
        else (result.interval.min_months, result.interval.max_months)
    )
    assert got == interval
    assert "Table 1" in result.rule_fired


def test_next_exam_dates() -> None:
    result = fleischner([nod(7.0)], LOW, EXAM)
    assert (result.next_exam_date, result.next_exam_latest) == (
        date(2025, 7, 15),
        date(2026, 1, 15),
    )
    assert fleischner([nod(4.0)], LOW, EXAM).next_exam_date is None


def test_multiple_solid_uses_most_suspicious() -> None:
    result = fleischner([nod(4.0, lid="a"), nod(7.0, lid="b")], LOW, EXAM)
    assert result.category == "multiple solid 6-8 mm"
    assert result.recommendation.startswith("CT at 3-6 months")
    assert (
        fleischner([nod(4.0, lid="a"), nod(5.0, lid="b")], LOW).recommendation
        == "No routine follow-up"
    )


def test_subsolid() -> None:
    assert fleischner([nod(5.0, kind="ground-glass")], LOW).recommendation == "No routine follow-up"
    ggn = fleischner([nod(6.0, kind="ground-glass")], LOW, EXAM)
    assert "every 2 years until 5 years" in ggn.recommendation
    part = fleischner([nod(10.0, kind="part-solid", solid=6.0)], LOW, EXAM)
    assert part.interval is not None
    assert part.interval.min_months == 3
    assert "highly suspicious" in part.rule_fired
    multi = fleischner(
        [nod(4.0, kind="ground-glass", lid="a"), nod(5.0, kind="part-solid", lid="b", solid=2.0)],
        LOW,
    )
    assert multi.recommendation.startswith(
        "CT at 3-6 months; if stable, consider CT at 2 and 4 years"
    )


@pytest.mark.parametrize(
    ("patient", "reason"),
    [
        (FleischnerPatient(age=34), "younger than 35"),
        (FleischnerPatient(age=60, screening=True), "screening"),
        (FleischnerPatient(age=60, known_cancer=True), "known primary cancer"),
        (FleischnerPatient(age=60, immunosuppressed=True), "immunosuppressed"),
    ],
)
def test_exclusions(patient: FleischnerPatient, reason: str) -> None:
    result = fleischner([nod(9.0)], patient, EXAM)
    assert not result.applicable
    assert result.category == "not applicable"
    assert reason in result.rule_fired
    assert result.next_exam_date is None


def test_age_35_is_included() -> None:
    assert fleischner([nod(9.0)], FleischnerPatient(age=35)).applicable


def test_no_nodule_is_an_input_error() -> None:
    with pytest.raises(InputError):
        fleischner([], LOW)
