"""Sizes written in report text: "4 mm", "1.2 cm", "4 x 5 mm", "1.2 x 0.8 x 1 cm".

Every dimension is converted to millimetres; ``size_mm`` is the largest
dimension (the longest diameter, as RECIST 1.1 measures a non-nodal lesion).
A unit written only after the last dimension applies to all of them
("4 x 5 mm"); a unit written after each applies to each ("1 cm x 8 mm").

Example:
    >>> [s.dims_mm for s in find_sizes("a 1.2 x 0.8 cm nodule and a 4 mm one")]
    [(12.0, 8.0), (4.0,)]
    >>> find_sizes("nodule measuring 1.2 x 0.8 cm")[0].size_mm
    12.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["UNIT_TO_MM", "Size", "find_sizes"]

# Length units as written, to millimetres.
UNIT_TO_MM: dict[str, float] = {
    "mm": 1.0,
    "millimeter": 1.0,
    "millimeters": 1.0,
    "millimetre": 1.0,
    "millimetres": 1.0,
    "cm": 10.0,
    "centimeter": 10.0,
    "centimeters": 10.0,
    "centimetre": 10.0,
    "centimetres": 10.0,
}

_NUM = r"\d+(?:\.\d+)?|\.\d+"
_UNIT = "|".join(sorted(UNIT_TO_MM, key=len, reverse=True))
_DIM = rf"({_NUM})\s*({_UNIT})?"
_BY = r"\s*(?:x|by|\u00d7|\*)\s*"
_SIZE_RE = re.compile(
    rf"(?<![\w.])({_NUM})\s*({_UNIT})?(?:{_BY}{_DIM})?(?:{_BY}{_DIM})?(?![\w])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Size:
    """One size statement.

    Attributes:
        dims_mm: every dimension, in millimetres, in the order written.
        start: character offset of the statement in the searched text.
        end: character offset just past the statement.
    """

    dims_mm: tuple[float, ...]
    start: int
    end: int

    @property
    def size_mm(self) -> float:
        """The largest dimension in millimetres."""
        return max(self.dims_mm)


def find_sizes(text: str) -> list[Size]:
    """Every size statement with a length unit in ``text``.

    Args:
        text: any text; case does not matter.

    Returns:
        The sizes in order of appearance; numbers without a unit are skipped.
    """
    sizes = []
    for match in _SIZE_RE.finditer(text):
        groups = match.groups()
        pairs = [(groups[i], groups[i + 1]) for i in range(0, 6, 2) if groups[i] is not None]
        last_unit = next((u for _n, u in reversed(pairs) if u), None)
        if last_unit is None:
            continue
        dims = tuple(
            round(float(num) * UNIT_TO_MM[(unit or last_unit).lower()], 3) for num, unit in pairs
        )
        sizes.append(Size(dims, match.start(), match.end()))
    return sizes
