"""Compare computed features with the IBSI 1 reference tables.

The tables (``ibsi_1_reference_values_*.csv``) list per feature a ``family``,
a ``reference value``, a ``tolerance`` and the ``tag`` used as feature key. The
caller reads the file; parsing and scoring here are pure.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass

from radcycle.errors import DataFormatError

__all__ = ["FamilyScore", "Reference", "parse_reference", "score_by_family"]


@dataclass(frozen=True)
class Reference:
    """One reference row: tag, family, value and tolerance."""

    tag: str
    family: str
    value: float
    tolerance: float

    def matches(self, computed: float | None) -> bool:
        """IBSI rule: the value rounded to 3 significant digits is within tolerance."""
        if computed is None or not math.isfinite(computed):
            return False
        rounded = _round_significant(computed, 3)
        slack = 1e-9 * max(1.0, abs(self.value))
        return abs(rounded - self.value) <= self.tolerance + slack


def _round_significant(value: float, digits: int) -> float:
    if value == 0.0:
        return 0.0
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


@dataclass(frozen=True)
class FamilyScore:
    """How many features of one family are within tolerance."""

    family: str
    passed: int
    total: int
    failed: tuple[str, ...]


def parse_reference(text: str, *, with_diagnostics: bool = False) -> list[Reference]:
    """Parse a reference CSV (text), keeping rows with a reference value.

    Args:
        text: the CSV content.
        with_diagnostics: keep the ``Diagnostics-*`` rows (image/ROI sizes).

    Raises:
        DataFormatError: a column is missing or a number malformed.
    """
    rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    out = []
    for row in rows:
        try:
            raw = row["reference value"].strip()
            if not raw or (row["family"].startswith("Diagnostics") and not with_diagnostics):
                continue
            out.append(
                Reference(row["tag"].strip(), row["family"], float(raw), float(row["tolerance"]))
            )
        except (KeyError, ValueError) as exc:
            raise DataFormatError("malformed IBSI reference row", value=dict(row)) from exc
    return out


def score_by_family(features: Mapping[str, float], refs: list[Reference]) -> list[FamilyScore]:
    """Per family (in table order): features within tolerance, total, and misses."""
    order: dict[str, list[Reference]] = {}
    for ref in refs:
        order.setdefault(ref.family, []).append(ref)
    scores = []
    for family, members in order.items():
        failed = tuple(r.tag for r in members if not r.matches(features.get(r.tag)))
        scores.append(FamilyScore(family, len(members) - len(failed), len(members), failed))
    return scores
