"""Words the writer uses and the verifier reads back: lobes, responses, directions.

One table each, so what the writer says and what the verifier accepts cannot drift.
"""

from __future__ import annotations

__all__ = [
    "CHANGE_WORDS",
    "LOBES",
    "RESPONSES",
    "STABLE_RANGE_PCT",
    "direction_word",
    "fmt_mm",
]

LOBES = {
    "RUL": "right upper lobe",
    "RML": "right middle lobe",
    "RLL": "right lower lobe",
    "LUL": "left upper lobe",
    "LLL": "left lower lobe",
}

#: RECIST 1.1 and iRECIST response codes and their names.
RESPONSES = {
    "CR": "complete response",
    "PR": "partial response",
    "SD": "stable disease",
    "PD": "progressive disease",
    "NE": "not evaluable",
    "iCR": "immune complete response",
    "iPR": "immune partial response",
    "iSD": "immune stable disease",
    "iUPD": "immune unconfirmed progressive disease",
    "iCPD": "immune confirmed progressive disease",
}

# Within RECIST 1.1's thresholds (section 4.3.1: -30 % is PR, +20 % is PD) a change
# of this size or less is called "unchanged" by the writer.
_UNCHANGED_PCT = 2.0
#: A lesion may be called stable (or unchanged) while its diameter changed by less
#: than this, about the reproducibility of a manual diameter (2 mm of 20 mm).
STABLE_RANGE_PCT = (-10.0, 10.0)

#: Words of change and the direction each states (+1 larger, -1 smaller, 0 stable).
CHANGE_WORDS = {
    "increased": 1,
    "increase": 1,
    "increasing": 1,
    "grown": 1,
    "grew": 1,
    "growing": 1,
    "enlarged": 1,
    "enlarging": 1,
    "larger": 1,
    "progressed": 1,
    "decreased": -1,
    "decrease": -1,
    "decreasing": -1,
    "smaller": -1,
    "shrunk": -1,
    "shrank": -1,
    "shrinking": -1,
    "reduced": -1,
    "regressed": -1,
    "stable": 0,
    "unchanged": 0,
}


def direction_word(change_pct: float) -> str:
    """The writer's word for a diameter change.

    Example:
        >>> direction_word(13.8), direction_word(-40.0), direction_word(1.0)
        ('increased', 'decreased', 'unchanged')
    """
    if abs(change_pct) <= _UNCHANGED_PCT:
        return "unchanged"
    return "increased" if change_pct > 0 else "decreased"


def fmt_mm(value: float) -> str:
    """A length to one decimal place, as the report states it.

    Example:
        >>> fmt_mm(12.34), fmt_mm(8.0)
        ('12.3', '8.0')
    """
    return f"{value:.1f}"
