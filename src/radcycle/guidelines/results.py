"""What every guideline engine returns, and the small helpers they share.

A :class:`GuidelineResult` is one statement a report can cite: the guideline and
its version, the category, the recommendation in words, when the next exam is due
(computed from the exam date given as input, never from the clock), the rule that
fired (citation text) and the inputs it used.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

from radcycle.errors import InputError

__all__ = ["FollowUpInterval", "GuidelineResult", "add_months", "due_dates", "round_half_up"]


def round_half_up(value: float, step: str = "0.1") -> float:
    """Round ``value`` to ``step`` with halves going up (5.25 -> 5.3, not banker's 5.2).

    Guidelines round measurements the way a reader does: Lung-RADS v2022 to 0.1 mm,
    Fleischner 2017 to the nearest millimetre.

    Example:
        >>> round_half_up(5.25), round_half_up(5.5, "1")
        (5.3, 6.0)
    """
    # Binary floats turn (6.3 + 5.6) / 2 into 5.9499999...; rounding to 9 places first
    # gives back the reader's 5.95, and repr() its shortest decimal form.
    exact = Decimal(repr(round(float(value), 9)))
    return float(exact.quantize(Decimal(step), rounding=ROUND_HALF_UP))


def add_months(start: date, months: int) -> date:
    """``start`` plus whole calendar months, clipped to the month's last day.

    Example:
        >>> add_months(date(2025, 8, 31), 6)
        datetime.date(2026, 2, 28)
    """
    if months < 0:
        raise InputError("a follow-up interval cannot be negative", value=months)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


@dataclass(frozen=True)
class FollowUpInterval:
    """A recommended follow-up window in months, e.g. 6 to 12 months.

    Example:
        >>> FollowUpInterval(6, 12).text
        '6-12 months'
    """

    min_months: int
    max_months: int

    def __post_init__(self) -> None:
        if self.min_months < 0 or self.max_months < self.min_months:
            raise InputError(
                "follow-up interval must satisfy 0 <= min <= max",
                value=(self.min_months, self.max_months),
            )

    @property
    def text(self) -> str:
        if self.min_months == self.max_months:
            return f"{self.min_months} months"
        return f"{self.min_months}-{self.max_months} months"


def due_dates(
    exam_date: date | None, interval: FollowUpInterval | None
) -> tuple[date | None, date | None]:
    """Earliest and latest due date of the next exam (None where either input is None).

    Example:
        >>> due_dates(date(2025, 1, 15), FollowUpInterval(6, 12))
        (datetime.date(2025, 7, 15), datetime.date(2026, 1, 15))
    """
    if exam_date is None or interval is None:
        return None, None
    return add_months(exam_date, interval.min_months), add_months(exam_date, interval.max_months)


@dataclass(frozen=True)
class GuidelineResult:
    """One guideline's verdict, ready for a report.

    Args:
        guideline: name and version, e.g. ``"Lung-RADS v2022"``.
        category: the category or response (``"4A"``, ``"PR"``, ``"T1b"``); for a
            guideline that does not apply, ``"not applicable"``.
        recommendation: management in words.
        rule_fired: the rule that decided, with its citation (text for the report).
        interval: recommended follow-up window, if any.
        next_exam_date: exam date plus the window's lower bound, if an exam date was given.
        next_exam_latest: exam date plus the window's upper bound.
        inputs: the values the decision used (for provenance).
        applicable: False where the guideline's exclusions apply (see ``rule_fired``).
    """

    guideline: str
    category: str
    recommendation: str
    rule_fired: str
    interval: FollowUpInterval | None = None
    next_exam_date: date | None = None
    next_exam_latest: date | None = None
    inputs: Mapping[str, object] = field(default_factory=dict)
    applicable: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", MappingProxyType(dict(self.inputs)))

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary (dates as ISO text)."""
        return {
            "guideline": self.guideline,
            "category": self.category,
            "recommendation": self.recommendation,
            "rule_fired": self.rule_fired,
            "interval_months": None
            if self.interval is None
            else [self.interval.min_months, self.interval.max_months],
            "next_exam_date": _jsonable(self.next_exam_date),
            "next_exam_latest": _jsonable(self.next_exam_latest),
            "applicable": self.applicable,
            "inputs": {k: _jsonable(v) for k, v in self.inputs.items()},
        }


def _jsonable(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
