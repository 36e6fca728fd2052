"""GuidelineResult and the shared helpers: month arithmetic and half-up rounding."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radcycle.errors import InputError
from radcycle.guidelines.results import (
    FollowUpInterval,
    GuidelineResult,
    add_months,
    due_dates,
    round_half_up,
)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 11, 15), 3, date(2026, 2, 15)),
        (date(2025, 3, 10), 12, date(2026, 3, 10)),
        (date(2025, 3, 10), 0, date(2025, 3, 10)),
    ],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_negative_interval_is_refused() -> None:
    with pytest.raises(InputError):
        add_months(date(2025, 1, 1), -1)
    with pytest.raises(InputError):
        FollowUpInterval(6, 3)


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [(5.95, "0.1", 6.0), (5.94, "0.1", 5.9), (5.25, "0.1", 5.3), (5.5, "1", 6.0), (6.49, "1", 6.0)],
)
def test_round_half_up(value: float, step: str, expected: float) -> None:
    assert round_half_up(value, step) == expected


@given(st.floats(0, 500, allow_nan=False))
def test_rounding_is_idempotent_and_close(value: float) -> None:
    once = round_half_up(value)
    assert round_half_up(once) == once
    assert abs(once - value) <= 0.05 + 1e-9


def test_result_to_dict_is_json_and_read_only_inputs() -> None:
    interval = FollowUpInterval(6, 12)
    first, last = due_dates(date(2025, 1, 15), interval)
    r = GuidelineResult("X", "3", "CT", "rule", interval, first, last, {"d": date(2025, 1, 15)})
    data = json.loads(json.dumps(r.to_dict()))
    assert data["next_exam_date"] == "2025-07-15"
    assert data["next_exam_latest"] == "2026-01-15"
    assert data["interval_months"] == [6, 12]
    assert data["inputs"]["d"] == "2025-01-15"
    with pytest.raises(TypeError):
        r.inputs["d"] = 1  # type: ignore[index]
