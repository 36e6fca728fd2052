"""Laterality, anatomical site, comparison and recommendation statements.

All are found with small regular-expression tables (data, not code) on
lower-case sentences.

Example:
    >>> laterality("small left pleural effusion")
    'left'
    >>> site("opacity in the right upper lobe")
    'upper lobe'
    >>> changes("interval resolution of the effusion; stable nodule")
    ['stable', 'resolved']
    >>> find_interval("recommend follow-up ct in 3 months")
    ('3 months', 90)
"""

from __future__ import annotations

import re

__all__ = [
    "CHANGE_PATTERNS",
    "RECOMMENDATION_RE",
    "SITE_PATTERNS",
    "changes",
    "find_interval",
    "find_procedure",
    "laterality",
    "site",
]

_LATERALITY: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("bilateral", re.compile(r"\b(?:bilateral(?:ly)?|both|bibasilar|bibasal|bilat)\b")),
    ("right", re.compile(r"\b(?:right|rt)\b")),
    ("left", re.compile(r"\b(?:left|lt|lingula[r]?)\b")),
)

# Anatomical sites, most specific first; the value is the canonical site name.
SITE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"upper lobes?|rul|lul", "upper lobe"),
    (r"middle lobe|rml", "middle lobe"),
    (r"lower lobes?|rll|lll", "lower lobe"),
    (r"lingula[r]?", "lingula"),
    (r"retrocardiac", "retrocardiac"),
    (r"perihilar|hilar|hil(?:um|a)", "hilum"),
    (r"mid ?-?lungs?|mid ?-?lung zones?", "mid lung"),
    (r"upper lungs?|upper lung zones?", "upper lung"),
    (r"lower lungs?|lower lung zones?", "lower lung"),
    (r"bases|base|basilar|basal|bibasilar|bibasal", "base"),
    (r"apices|apex|apical", "apex"),
    (r"costophrenic (?:angles?|sulc(?:us|i))", "costophrenic angle"),
    (r"fissures?", "fissure"),
    (r"pleura[l]?", "pleura"),
    (r"mediastin(?:um|al)|paratracheal|aortopulmonary", "mediastinum"),
    (r"ribs?|costal", "ribs"),
    (r"clavicles?|clavicular", "clavicle"),
    (r"stern(?:um|al)", "sternum"),
    (r"vertebra[le]?|vertebral bod(?:y|ies)|spine|spinal|t\d{1,2}|l\d", "spine"),
    (r"shoulders?|humer(?:us|al)|glenohumeral", "shoulder"),
    (r"superior vena cava|svc|cavoatrial|right atrium", "superior vena cava"),
    (r"trachea[l]?|carina", "trachea"),
    (r"lungs?|pulmonary", "lung"),
)
_SITE_RES = tuple((re.compile(rf"\b(?:{p})\b"), name) for p, name in SITE_PATTERNS)

# Comparison with a prior study, by kind of change.
CHANGE_PATTERNS: dict[str, str] = {
    "new": r"\bnew(?:ly)?\b(?! (?:comparison|study|exam))",
    "increased": (
        r"\b(?:increas(?:ed|ing|e)|enlarg(?:ing|ed in size)|worse(?:n(?:ed|ing))?|"
        r"progress(?:ed|ion|ive|ing)|larger|grown|growing)\b"
    ),
    "stable": (
        r"\b(?:stable|unchanged|no (?:significant |interval |appreciable )?change|"
        r"again (?:seen|noted|demonstrated|visualized)|re-?demonstrat\w*|similar|persist\w*)\b"
    ),
    "decreased": (
        r"\b(?:decreas(?:ed|ing|e)|improv(?:ed|ing|ement)|smaller|diminish(?:ed|ing)|"
        r"less (?:prominent|conspicuous|pronounced)|regress(?:ed|ion|ing)|shrunk|shrinking)\b"
    ),
    "resolved": r"\b(?:resol(?:ved|ving|ution)|cleared|clearing|no longer (?:seen|visualized|present))\b",  # noqa: E501
}
_CHANGE_RES = tuple((kind, re.compile(p)) for kind, p in CHANGE_PATTERNS.items())
# "no new" says nothing new appeared; "no increase" is stability, not growth.
_MASK_RE = re.compile(r"\bno (?:new|(?:significant |interval )?(?:increase|decrease))\b")

RECOMMENDATION_RE = re.compile(
    r"\b(?:recommend\w*|advis\w*|suggest(?:ed)? (?:follow|repeat|ct|correlation|further)|"
    r"follow[- ]?up|should (?:be|undergo)|consider\w*|(?:clinical|further) (?:correlation|evaluation)|"  # noqa: E501
    r"could be (?:obtained|performed)|repeat (?:\w+ )?(?:study|radiograph|film|ct|imaging))\b"
)

_NUMBER_WORDS: dict[str, int] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "eighteen": 18,
    "twenty-four": 24,
}
_UNIT_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30, "year": 365}
_NUMBER = r"\d+|" + "|".join(_NUMBER_WORDS)
_INTERVAL_RE = re.compile(
    rf"\b(?:in|at|within|every|after)\s+(?:(?:a|an)\s+)?((?:{_NUMBER})(?:\s*(?:-|to)\s*(?:{_NUMBER}))?)?"
    r"\s*-?\s*(day|week|month|year)s?\b"
)
_PROCEDURES: tuple[tuple[str, str], ...] = (
    (r"pet(?:/ct| ct|-ct)?", "PET/CT"),
    (r"\bct\b|computed tomography|cat scan", "CT"),
    (r"\bmri?\b|magnetic resonance", "MR"),
    (r"radiograph\w*|x-?ray|chest film|films?|\bpa and lateral\b", "radiograph"),
    (r"biops\w+|tissue sampling", "biopsy"),
    (r"correlat\w+", "clinical correlation"),
)
_PROCEDURE_RES = tuple((re.compile(p), name) for p, name in _PROCEDURES)


def laterality(text: str) -> str | None:
    """``"bilateral"``, ``"right"``, ``"left"`` or None; right and left together are bilateral."""
    found = [name for name, pattern in _LATERALITY if pattern.search(text)]
    if "bilateral" in found or ("right" in found and "left" in found):
        return "bilateral"
    return found[0] if found else None


def site(text: str) -> str | None:
    """The most specific anatomical site named in ``text``, or None."""
    for pattern, name in _SITE_RES:
        if pattern.search(text):
            return name
    return None


def changes(text: str) -> list[str]:
    """Kinds of change stated in a sentence, in the order of :data:`CHANGE_PATTERNS`."""
    text = _MASK_RE.sub(" ", text)
    return [kind for kind, pattern in _CHANGE_RES if pattern.search(text)]


def find_interval(text: str) -> tuple[str, int] | None:
    """A follow-up interval in a sentence: its words and its shortest length in days."""
    match = _INTERVAL_RE.search(text)
    if match is None:
        return None
    amount, unit = match.group(1), match.group(2)
    first = re.split(r"\s*(?:-|to)\s*", amount)[0] if amount else "1"
    number = int(first) if first.isdigit() else _NUMBER_WORDS[first]
    amount = amount or "1"
    words = f"{amount} {unit}" + ("" if amount in ("1", "one") else "s")
    return words, number * _UNIT_DAYS[unit]


def find_procedure(text: str) -> str | None:
    """The procedure a recommendation asks for (CT, PET/CT, MR, radiograph, biopsy, ...)."""
    for pattern, name in _PROCEDURE_RES:
        if pattern.search(text):
            return name
    return None
