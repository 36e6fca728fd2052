"""What a sentence claims, read with rules: numbers with units, dates, sides, lobes,
organs, lesion kinds, lesion identifiers, categories, directions of change,
newness and disappearance, negation and hedging.

:func:`read_claims` is the verifier's reader; it knows the writer's words
(:mod:`radcycle.reporting.wording`) and the usual ways a radiologist says them
(``1.2 cm``, ``right upper lobe`` or ``RUL``, ``PD`` or ``progressive disease``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from radcycle.reporting.wording import CHANGE_WORDS, LOBES, RESPONSES

__all__ = ["QUALITY_ANALYSES", "Claims", "Quantity", "read_claims", "split_sentences"]

_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for m in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATES = (
    re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),
    re.compile(rf"\b(\d{{1,2}})\s+({_MONTH})\.?\s+(\d{{4}})\b", re.I),
    re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.I),
)
# Units and their factor to the facts' units (mm, mm3, %).
_UNITS = {
    "mm3": ("mm3", 1.0),
    "mm³": ("mm3", 1.0),
    "cm3": ("mm3", 1000.0),
    "cm³": ("mm3", 1000.0),
    "ml": ("mm3", 1000.0),
    "mm": ("mm", 1.0),
    "cm": ("mm", 10.0),
    "%": ("%", 1.0),
    "percent": ("%", 1.0),
}
_NUM = r"(\d+(?:\.\d+)?)"
_QUANTITY = re.compile(
    rf"{_NUM}(?:\s*(?:x|×|by)\s*{_NUM})?(?:\s*(?:x|×)\s*{_NUM})?\s*"
    r"(mm3|mm³|cm3|cm³|ml|mm|cm|%|percent)(?![a-z])",
    re.I,
)
_MONTHS_INTERVAL = re.compile(r"\b(\d+)(?:\s*(?:-|to)\s*(\d+))?\s*months?\b", re.I)
# "lesion 3", not "lung lesion 6 mm"
_LESION_ID = re.compile(r"\blesion\s+(\d+)\b(?!\.\d|\s*(?:mm|cm|%|x\b))", re.I)
_LOBE_WORDS = {name: code for code, name in LOBES.items()}
_SIDE = re.compile(r"\b(left|right)\b", re.I)
_KINDS = {
    "part-solid": re.compile(r"\bpart[- ]solid\b|\bsubsolid\b", re.I),
    "ground-glass": re.compile(r"\bground[- ]glass\b|\bGGN\b", re.I),
    "solid": re.compile(r"(?<![-\w])solid\b(?! component)", re.I),
    "mass": re.compile(r"\bmass\b", re.I),
    "lymph node": re.compile(r"\b(lymph\s+)?nodes?\b|\blymphadenopathy\b", re.I),
}
_ORGANS = {
    "liver": re.compile(r"\b(liver|hepatic)\b", re.I),
    "adrenal": re.compile(r"\badrenal\b", re.I),
    "bone": re.compile(r"\b(bone|osseous|skeletal)\b", re.I),
    "brain": re.compile(r"\bbrain\b", re.I),
    "kidney": re.compile(r"\b(kidney|renal)\b", re.I),
    "pleura": re.compile(r"\b(pleural effusion|effusion)\b", re.I),
}
_FINDING_WORDS = re.compile(
    r"\b(metasta\w*|malignan\w*|cancer|\w*carcinoma|tumou?r|neoplas\w*|pneumothorax|"
    r"normal|unremarkable|clear|benign|"
    r"consolidation|pneumonia|emboli\w*|atelectasis|fracture|cavitat\w*|calcifi\w*)\b",
    re.I,
)
_HEDGES = re.compile(
    r"\b(possibl[ey]|probabl[ey]|may|might|could|likely|suspicious|suspected|"
    r"questionable|cannot be excluded|indeterminate|equivocal|suggest\w*|consider)\b",
    re.I,
)
_NEGATION = re.compile(r"\b(no|not|without|absent|negative for|resolved)\b", re.I)
_NO_NEW = re.compile(r"\bno\s+(?:\w+\s+){0,2}new\b|\bwithout\s+(?:\w+\s+){0,2}new\b", re.I)
_NEW = re.compile(r"\bnew\b|\bnewly\b", re.I)
_GONE = re.compile(r"\b(disappeared|no longer (?:seen|visible)|resolved)\b", re.I)
_NOT_EVALUATED = re.compile(r"\bnot (?:been )?(?:evaluated|evaluable|assessed|assessable)\b", re.I)
_LUNG_RADS = re.compile(r"\bLung-?RADS\b[^.;]*?\b(?:category\s+)?([0-4][ABX]?S?)\b", re.I)
_LUNG_RADS_NA = re.compile(
    r"\bLung-?RADS\b[^.;]*\b(?:not applicable|does not apply)\b"
    r"|\b(?:not applicable|does not apply)\b[^.;]*\bLung-?RADS\b",
    re.I,
)
_RECIST_CODE = re.compile(r"\b(i?CR|i?PR|i?SD|PD|iUPD|iCPD|NE)\b")
# image quality: "fit with caveats for RECIST 1.1 measurement" (the writer's words)
QUALITY_ANALYSES = {
    "lung nodule detection": "lung-nodules",
    "recist 1.1 measurement": "recist",
    "radiomics": "radiomics",
}
_QUALITY = re.compile(
    r"\b(unfit|fit with caveats|fit)\s+for\s+(lung nodule detection|RECIST 1\.1 measurement|"
    r"radiomics)\b",
    re.I,
)
_QUALITY_REASONS = re.compile(r"\(([^()]*)\)\s*\.?\s*$")
_PHASE = re.compile(
    r"\bcontrast phase from the (?:image|aorta)\b[^:]*:\s*([a-z -]+?)\s*\.?\s*$", re.I
)
_NOISE = re.compile(r"\bwithin (?:its|their) (?:own )?(?:measurement )?noise\b", re.I)


@dataclass(frozen=True)
class Quantity:
    """A number with its unit, converted to the facts' unit, and its stated precision."""

    value: float
    unit: str
    tolerance: float
    text: str


@dataclass
class Claims:
    """Everything a sentence claims (see the module docstring)."""

    quantities: list[Quantity] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    intervals_months: list[tuple[int, int]] = field(default_factory=list)
    lesion_ids: list[str] = field(default_factory=list)
    sides: set[str] = field(default_factory=set)
    lobes: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    organs: set[str] = field(default_factory=set)
    findings: set[str] = field(default_factory=set)
    responses: set[str] = field(default_factory=set)
    lung_rads: set[str] = field(default_factory=set)
    lung_rads_not_applicable: bool = False
    directions: set[int] = field(default_factory=set)
    new: bool = False
    no_new: bool = False
    gone: bool = False
    not_evaluated: bool = False
    hedged: bool = False
    negated: bool = False
    sum: bool = False
    slices: bool = False
    reported: bool = False
    no_prior: bool = False
    noise: bool = False
    quality: list[tuple[str, str]] = field(default_factory=list)
    quality_reasons: list[str] = field(default_factory=list)
    phase: str | None = None

    def is_empty(self) -> bool:
        return not any(
            (
                self.quantities,
                self.dates,
                self.lesion_ids,
                self.sides,
                self.lobes,
                self.kinds,
                self.organs,
                self.findings,
                self.responses,
                self.lung_rads,
                self.lung_rads_not_applicable,
                self.directions,
                self.new,
                self.no_new,
                self.no_prior,
                self.gone,
                self.noise,
                self.quality,
                self.phase,
            )
        )


def split_sentences(text: str) -> list[str]:
    """Free text or one sentence a line -> sentences.

    Example:
        >>> split_sentences("Lesion 1 measures 12.0 mm. It is new.\\nNo effusion")
        ['Lesion 1 measures 12.0 mm.', 'It is new.', 'No effusion']
    """
    out: list[str] = []
    for line in text.splitlines():
        # a full stop followed by a space and a capital (not a decimal point) ends one
        parts = re.split(r"(?<=[.!?])\s+(?=[A-Z(])", line.strip())
        out.extend(p.strip() for p in parts if p.strip())
    return out


def _dates(text: str) -> tuple[list[str], str]:
    found: list[str] = []
    for i, pattern in enumerate(_DATES):
        for m in pattern.finditer(text):
            try:
                if i == 0:
                    d = date(int(m[1]), int(m[2]), int(m[3]))
                elif i == 1:
                    d = date(int(m[3]), _MONTHS[m[2].lower()], int(m[1]))
                else:
                    d = date(int(m[3]), _MONTHS[m[1].lower()], int(m[2]))
            except ValueError:
                found.append(m[0])  # not a calendar date: stays a claim no fact supports
                continue
            found.append(d.isoformat())
        text = pattern.sub(" ", text)
    return found, text


def _decimals(number: str) -> int:
    return len(number.split(".")[1]) if "." in number else 0


def _quantities(text: str) -> tuple[list[Quantity], str]:
    found: list[Quantity] = []
    for m in _QUANTITY.finditer(text):
        unit, factor = _UNITS[m[4].lower()]
        for number in (m[1], m[2], m[3]):
            if number is None:
                continue
            # a value stated to d decimals stands for anything that rounds to it
            tolerance = 0.5 * 10 ** (-_decimals(number)) * factor + 1e-9
            found.append(Quantity(float(number) * factor, unit, tolerance, m[0]))
    return found, _QUANTITY.sub(" ", text)


def _lobes(text: str) -> set[str]:
    lower = text.lower()
    found = {code for name, code in _LOBE_WORDS.items() if name in lower}
    found |= {code for code in LOBES if re.search(rf"\b{code}\b", text)}
    return found


def _responses(text: str) -> set[str]:
    lower = text.lower()
    found = {code for code, name in RESPONSES.items() if re.search(rf"\b{name}\b", lower)}
    # "immune stable disease" also contains "stable disease": keep the longest name
    for code in list(found):
        if any(other != code and RESPONSES[code] in RESPONSES[other] for other in found):
            found.discard(code)
    found |= {m[1] for m in _RECIST_CODE.finditer(text)}
    return found


def read_claims(sentence: str) -> Claims:
    """Read what ``sentence`` claims.

    Example:
        >>> c = read_claims("Lesion 2 in the right upper lobe grew to 1.4 cm on 2025-04-07.")
        >>> (c.lesion_ids, sorted(c.lobes), c.quantities[0].value, c.dates, sorted(c.directions))
        (['lesion 2'], ['RUL'], 14.0, ['2025-04-07'], [1])
    """
    claims = Claims()
    claims.quality = [
        (m[1].lower(), QUALITY_ANALYSES[m[2].lower()]) for m in _QUALITY.finditer(sentence)
    ]
    reasons = _QUALITY_REASONS.search(sentence) if claims.quality else None
    if reasons is not None:
        claims.quality_reasons = [r.strip().lower() for r in reasons[1].split(",") if r.strip()]
        sentence = sentence[: reasons.start()]  # the reasons are checked as such, not read
    phase = _PHASE.search(sentence)
    if phase is not None:
        claims.phase = phase[1].strip().lower()
        sentence = sentence[: phase.start(1)]
    claims.noise = bool(_NOISE.search(sentence))
    claims.dates, rest = _dates(sentence)
    claims.lesion_ids = [f"lesion {m[1]}" for m in _LESION_ID.finditer(rest)]
    rest = _LESION_ID.sub(" ", rest)
    for m in _MONTHS_INTERVAL.finditer(rest):
        low = int(m[1])
        claims.intervals_months.append((low, int(m[2]) if m[2] else low))
    rest = _MONTHS_INTERVAL.sub(" ", rest)
    claims.lung_rads_not_applicable = bool(_LUNG_RADS_NA.search(rest))
    for m in _LUNG_RADS.finditer(rest):
        claims.lung_rads.add(m[1].upper())
    rest = _LUNG_RADS.sub(" Lung-RADS ", rest)
    rest = re.sub(r"\b(RECIST|iRECIST)\s+1\.1\b|\bv2022\b|\bFleischner\s+2017\b", " ", rest)
    claims.quantities, rest = _quantities(rest)
    claims.lobes = _lobes(rest)
    claims.sides = {m[1].lower() for m in _SIDE.finditer(rest)}
    lower = rest.lower()
    claims.kinds = {kind for kind, pattern in _KINDS.items() if pattern.search(rest)}
    if "part-solid" in claims.kinds:
        claims.kinds.discard("solid")
    claims.organs = {organ for organ, pattern in _ORGANS.items() if pattern.search(rest)}
    claims.findings = {m[1].lower() for m in _FINDING_WORDS.finditer(rest)}
    claims.responses = _responses(rest)
    claims.directions = {d for w, d in CHANGE_WORDS.items() if re.search(rf"\b{w}\b", lower)}
    if "stable disease" in lower:
        claims.directions.discard(0)  # the category, checked as a response
    claims.no_new = bool(_NO_NEW.search(rest))
    claims.new = bool(_NEW.search(rest)) and not claims.no_new
    claims.gone = bool(_GONE.search(rest))
    claims.not_evaluated = bool(_NOT_EVALUATED.search(rest))
    claims.hedged = bool(_HEDGES.search(rest))
    claims.no_prior = bool(re.search(r"\bno (?:prior|previous|earlier) (?:study|exam|CT)", lower))
    claims.sum = bool(re.search(r"\bsum\b", lower))
    claims.slices = bool(re.search(r"\b(slices?|thickness|collimation)\b", lower))
    claims.reported = bool(re.search(r"\b(prior|previous|earlier) report\b|\breported\b", lower))
    claims.negated = bool(_NEGATION.search(rest))
    return claims
