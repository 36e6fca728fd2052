"""Split a radiology report into sections and sentences.

Sections are found from header words followed by a colon ("FINDINGS:",
"Impression:"), at a line start or inside running text. Header synonyms map to
five canonical names: ``indication``, ``comparison``, ``findings``,
``impression`` and ``recommendation`` (plus ``technique``). Text before any
header, or a report without headers, is kept under ``findings``.

Example:
    >>> split_sections("INDICATION: cough. FINDINGS: No effusion. IMPRESSION: Normal.")
    {'indication': 'cough.', 'findings': 'No effusion.', 'impression': 'Normal.'}
    >>> split_sentences("1. No effusion.Heart size normal. 2. Lungs 1.2 cm clear")
    ['No effusion.', 'Heart size normal.', 'Lungs 1.2 cm clear']
"""

from __future__ import annotations

import re

__all__ = ["HEADER_SYNONYMS", "MINED_SECTIONS", "split_sections", "split_sentences"]

# Header words seen in radiology reports, mapped to the canonical section name.
HEADER_SYNONYMS: dict[str, str] = {
    "indication": "indication",
    "indications": "indication",
    "clinical indication": "indication",
    "history": "indication",
    "clinical history": "indication",
    "clinical information": "indication",
    "reason for exam": "indication",
    "reason for examination": "indication",
    "comparison": "comparison",
    "comparisons": "comparison",
    "prior": "comparison",
    "technique": "technique",
    "procedure": "technique",
    "findings": "findings",
    "finding": "findings",
    "report": "findings",
    "impression": "impression",
    "impressions": "impression",
    "conclusion": "impression",
    "conclusions": "impression",
    "summary": "impression",
    "recommendation": "recommendation",
    "recommendations": "recommendation",
    "follow-up": "recommendation",
    "follow up": "recommendation",
}

# Sections whose sentences describe the current images (the indication and the
# comparison name the question and the prior exam, not findings).
MINED_SECTIONS: tuple[str, ...] = ("findings", "impression", "recommendation")

_HEADER_RE = re.compile(
    r"(?:(?<=^)|(?<=[\s.]))("
    + "|".join(sorted((re.escape(h) for h in HEADER_SYNONYMS), key=len, reverse=True))
    + r")\s*:",
    re.IGNORECASE | re.MULTILINE,
)

# A sentence ends at . ! ? followed by space, at a period glued to a capital
# ("effusion.Heart"), at a line break or at an HTML <BR>. Decimal points stay.
_SENTENCE_BREAK_RE = re.compile(
    r"(?<=[.!?])\s+|(?<=[a-z]\.)(?=[A-Z])|\s*\n\s*|\s*<br\s*/?>\s*", re.I
)
# Enumerators left at a sentence start: "1.", "2)", "-".
_ENUMERATOR_RE = re.compile(r"^(?:\d{1,2}[.)]|[-*\u2022])(?:\s+|$)")


def split_sections(text: str) -> dict[str, str]:
    """Split report text into canonical sections.

    Args:
        text: the whole report as plain text.

    Returns:
        Section name to text, in order of appearance; repeated sections are
        joined with a space. Empty sections are dropped.
    """
    sections: dict[str, str] = {}
    matches = list(_HEADER_RE.finditer(text))
    starts = [(m.start(), m.end(), HEADER_SYNONYMS[m.group(1).lower()]) for m in matches]
    preamble_end = starts[0][0] if starts else len(text)
    _add(sections, "findings", text[:preamble_end])
    for index, (_start, end, name) in enumerate(starts):
        stop = starts[index + 1][0] if index + 1 < len(starts) else len(text)
        _add(sections, name, text[end:stop])
    return sections


def _add(sections: dict[str, str], name: str, body: str) -> None:
    body = " ".join(body.split())
    if not body:
        return
    sections[name] = f"{sections[name]} {body}" if name in sections else body


def split_sentences(text: str) -> list[str]:
    """Split text into sentences, dropping enumerators and empty pieces.

    Args:
        text: a section or a whole report.

    Returns:
        The sentences, stripped, in order.
    """
    sentences = []
    for piece in _SENTENCE_BREAK_RE.split(text):
        piece = _ENUMERATOR_RE.sub("", piece.strip()).strip()
        if piece and any(ch.isalnum() for ch in piece):
            sentences.append(piece)
    return sentences
