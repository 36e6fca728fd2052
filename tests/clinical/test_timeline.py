"""Timeline ordering, lines of therapy, current treatment and lab trends."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from radcycle.clinical.fhir import parse_bundle
from radcycle.clinical.timeline import (
    GAP_DAYS,
    build_timeline,
    current_treatment,
    lab_trends,
    lines_of_therapy,
)
from radcycle.domain.clinical import LabResult, MedicationExposure


def med(source: str, name: str, start: date, end: date | None = None) -> MedicationExposure:
    return MedicationExposure(source, start, end, name)


def test_timeline_is_ordered_with_sources(bundle: dict[str, Any]) -> None:
    events = build_timeline(parse_bundle(bundle))
    dates = [e.date for e in events if e.date]
    assert dates == sorted(dates)
    assert all(e.source for e in events)
    assert [(e.date, e.source) for e in events[:2]] == [
        (date(2024, 1, 5), "ImagingStudy/s0"),
        (date(2024, 1, 5), "DiagnosticReport/r1"),
    ]
    kinds = {e.kind for e in events}
    assert {"diagnosis", "tumour_marker", "medication", "line_of_therapy", "imaging_study"} <= kinds


def test_lines_of_therapy_from_bundle(bundle: dict[str, Any]) -> None:
    lines = lines_of_therapy(parse_bundle(bundle).medications)
    assert [line.agents for line in lines] == [
        ("carboplatin", "pembrolizumab", "pemetrexed"),
        ("docetaxel",),
    ]
    assert lines[0].immunotherapy
    assert not lines[1].immunotherapy
    assert "MedicationAdministration/m6" in lines[0].sources
    assert lines[0].end == date(2024, 6, 1)


def test_same_class_substitution_continues_the_line() -> None:
    d = date(2024, 1, 1)
    lines = lines_of_therapy(
        [
            med("a", "carboplatin", d),
            med("b", "paclitaxel", d),
            med("c", "cisplatin", d + timedelta(days=42)),
            med("d", "paclitaxel", d + timedelta(days=42)),
        ]
    )
    assert len(lines) == 1
    assert lines[0].agents == ("carboplatin", "paclitaxel", "cisplatin")


def test_new_agent_after_window_opens_a_line() -> None:
    d = date(2024, 1, 1)
    lines = lines_of_therapy(
        [
            med("a", "osimertinib 80 mg", d, d + timedelta(days=300)),
            med("b", "carboplatin", d + timedelta(days=310)),
        ]
    )
    assert [line.number for line in lines] == [1, 2]
    assert lines[0].agents == ("osimertinib",)
    assert lines[0].classes == ("EGFR inhibitor",)


def test_rechallenge_after_gap_opens_a_line() -> None:
    d = date(2024, 1, 1)
    lines = lines_of_therapy(
        [
            med("a", "pembrolizumab", d, d + timedelta(days=60)),
            med("b", "pembrolizumab", d + timedelta(days=61 + GAP_DAYS)),
        ]
    )
    assert len(lines) == 2


def test_current_treatment_at_study_dates(bundle: dict[str, Any]) -> None:
    lines = lines_of_therapy(parse_bundle(bundle).medications)
    assert current_treatment(lines, date(2024, 1, 5)) is None  # baseline scan
    during = current_treatment(lines, date(2024, 5, 2))
    assert during is not None
    assert during.number == 1
    assert during.immunotherapy
    assert current_treatment(lines, date(2024, 6, 20)) is not None  # within one cycle
    assert current_treatment(lines, date(2024, 8, 1)) is None


def test_cea_doubled_and_above_reference(bundle: dict[str, Any]) -> None:
    (cea,) = [t for t in lab_trends(parse_bundle(bundle).labs) if t.code == "2039-6"]
    assert cea.count == 3
    assert cea.ratio_to_baseline == 9.0 / 4.0
    assert cea.doubled
    assert cea.above_reference
    assert cea.sources == ("Observation/cea1", "Observation/cea3")
    days = (date(2024, 9, 1) - date(2024, 1, 8)).days
    assert cea.doubling_time_days is not None
    assert math.isclose(cea.doubling_time_days, days * math.log(2) / math.log(9 / 4))


@given(st.floats(0.1, 100), st.floats(0.1, 100), st.integers(1, 1000))
def test_doubling_time_property(first: float, last: float, days: int) -> None:
    start = date(2024, 1, 1)
    labs = [
        LabResult("o1", start, "x", "X", first),
        LabResult("o2", start + timedelta(days=days), "x", "X", last),
    ]
    (trend,) = lab_trends(labs)
    assert trend.doubled == (last / first >= 2)
    if last > first:
        assert trend.doubling_time_days is not None
        # Growing at the fitted rate for the doubling time multiplies the value by 2.
        rate = math.log(last / first) / days
        assert math.isclose(math.exp(rate * trend.doubling_time_days), 2.0, rel_tol=1e-9)
    else:
        assert trend.doubling_time_days is None


_AGENTS = ["carboplatin", "cisplatin", "pemetrexed", "pembrolizumab", "docetaxel", "osimertinib"]


@given(
    st.lists(
        st.tuples(st.sampled_from(_AGENTS), st.integers(0, 900), st.integers(0, 200)),
        min_size=1,
        max_size=12,
    )
)
def test_lines_of_therapy_invariants(doses: list[tuple[str, int, int]]) -> None:
    start = date(2023, 1, 1)
    meds = [
        med(f"m{i}", agent, start + timedelta(days=day), start + timedelta(days=day + length))
        for i, (agent, day, length) in enumerate(doses)
    ]
    lines = lines_of_therapy(meds)
    assert [line.number for line in lines] == list(range(1, len(lines) + 1))
    assert [line.start for line in lines] == sorted(line.start for line in lines)
    # Every medication is in exactly one line, and within that line's dates.
    sources = [s for line in lines for s in line.sources]
    assert sorted(sources) == sorted(m.source for m in meds)
    for line in lines:
        for m in meds:
            if m.source in line.sources:
                assert line.start <= m.start
                assert (m.end or m.start) <= line.end
