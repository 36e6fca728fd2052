"""Mine a free-text radiology report into structured prior findings.

The pipeline is rule based and needs no model files: sections, sentences,
lexicon mentions of the 14 CheXpert observations (:mod:`.labels`), a
ConText-style assertion for each mention (:mod:`.context`), sizes, laterality
and site, comparison statements and recommendations with intervals.

Example:
    >>> report = mine_text("FINDINGS: No pneumothorax. 1.2 x 0.8 cm right upper lobe nodule.")
    >>> report.labels()["Lung Lesion"], report.labels()["Pneumothorax"]
    (True, False)
    >>> [(f.label, f.size_mm, f.laterality, f.site) for f in report.findings if f.present is True]
    [('Lung Lesion', 12.0, 'right', 'upper lobe')]
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from radcycle.clinical.nlp.context import Presence, SentenceContext
from radcycle.clinical.nlp.findings import (
    RECOMMENDATION_RE,
    changes,
    find_interval,
    find_procedure,
    laterality,
    site,
)
from radcycle.clinical.nlp.labels import (
    CHEXPERT_LABELS,
    NO_FINDING,
    OTHER,
    Mention,
    find_mentions,
    no_finding,
)
from radcycle.clinical.nlp.sections import MINED_SECTIONS, split_sections, split_sentences
from radcycle.clinical.nlp.sizes import find_sizes

__all__ = [
    "Comparison",
    "MinedFinding",
    "MinedReport",
    "Recommendation",
    "mine_sections",
    "mine_text",
]

# A size belongs to a mention when it is at most this many characters away.
_SIZE_REACH = 40
# Longer than any size expression ("12.5 x 10 x 8 mm"): where to look for sizes.
_SIZE_WINDOW = 60
# A clause is read at most this far (characters) either side of its mention.
_CLAUSE_REACH = 300


@dataclass(frozen=True)
class MinedFinding:
    """One mention of an observation with its assertion and attributes.

    Attributes:
        label: one of the 14 CheXpert names, or "Other" for incidental findings.
        present: True, False (negated) or "uncertain".
        size_mm: largest dimension of a size stated beside the mention.
        dims_mm: every dimension of that size.
        laterality: "right", "left", "bilateral" or None.
        site: canonical anatomical site or None.
        text: the sentence the mention comes from.
        section: the report section of that sentence.
        change: a comparison with a prior stated in the same sentence.
    """

    label: str
    present: Presence
    size_mm: float | None
    dims_mm: tuple[float, ...]
    laterality: str | None
    site: str | None
    text: str
    section: str
    change: str | None = None


@dataclass(frozen=True)
class Comparison:
    """A statement comparing with a prior study (new, increased, stable, decreased, resolved)."""

    change: str
    labels: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Recommendation:
    """A recommendation with its follow-up interval when one is stated."""

    text: str
    interval: str | None
    interval_days: int | None
    procedure: str | None


@dataclass(frozen=True)
class MinedReport:
    """Everything mined from one report."""

    sections: dict[str, str]
    findings: tuple[MinedFinding, ...]
    comparisons: tuple[Comparison, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    other_findings: tuple[MinedFinding, ...] = field(default=())

    def labels(self) -> dict[str, Presence]:
        """Report-level assertion per mentioned label (positive > uncertain > negative)."""
        result: dict[str, Presence] = {}
        for finding in (*self.findings, *self.other_findings):
            result[finding.label] = _stronger(result.get(finding.label), finding.present)
        return result

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (the ``radcycle mine`` output)."""
        keys = ("label", "present", "size_mm", "dims_mm", "laterality", "site", "text", "change")
        return {
            "findings": [{k: _jsonable(getattr(f, k)) for k in keys} for f in self.findings],
            # Report-level assertion of each of the 14 observations; None: not mentioned.
            "labels": {name: self.labels().get(name) for name in CHEXPERT_LABELS}
            | {NO_FINDING: self.labels().get(NO_FINDING, False)},
            "comparisons": [
                {"change": c.change, "labels": list(c.labels), "text": c.text}
                for c in self.comparisons
            ],
            "recommendations": [asdict(r) for r in self.recommendations],
            "other_findings": [
                {k: _jsonable(getattr(f, k)) for k in keys} for f in self.other_findings
            ],
            "sections": dict(self.sections),
        }


def _jsonable(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


_RANK: dict[object, int] = {None: 0, False: 1, "uncertain": 2, True: 3}


def _stronger(old: Presence | None, new: Presence) -> Presence:
    if old is None or _RANK[new] > _RANK[old]:
        return new
    return old


def mine_text(text: str) -> MinedReport:
    """Mine a plain-text report (sections found from their headers).

    Args:
        text: the whole report.

    Returns:
        The mined report.
    """
    return mine_sections(split_sections(text))


def mine_sections(sections: Mapping[str, str]) -> MinedReport:
    """Mine a report already split into sections.

    Only :data:`~radcycle.clinical.nlp.sections.MINED_SECTIONS` are mined for
    findings (the indication states the question, not the answer).

    Args:
        sections: canonical section name to its text.

    Returns:
        The mined report, with a derived "No Finding" entry when it applies.
    """
    findings: list[MinedFinding] = []
    comparisons: list[Comparison] = []
    recommendations: list[Recommendation] = []
    for name in MINED_SECTIONS:
        for sentence in split_sentences(sections.get(name, "")):
            lower = sentence.lower()
            found = _mine_sentence(sentence, lower, name)
            findings.extend(found)
            labels = tuple(dict.fromkeys(f.label for f in found if f.label != OTHER))
            comparisons.extend(Comparison(kind, labels, sentence) for kind in changes(lower))
            if name == "recommendation" or RECOMMENDATION_RE.search(lower):
                interval = find_interval(lower)
                recommendations.append(
                    Recommendation(
                        sentence,
                        interval[0] if interval else None,
                        interval[1] if interval else None,
                        find_procedure(lower),
                    )
                )
    main = [f for f in findings if f.label != OTHER]
    other = [f for f in findings if f.label == OTHER]
    report = MinedReport(
        dict(sections), tuple(main), tuple(comparisons), tuple(recommendations), tuple(other)
    )
    if no_finding(report.labels()):
        summary = sections.get("impression") or sections.get("findings") or ""
        entry = MinedFinding(NO_FINDING, True, None, (), None, None, summary, "impression")
        report = MinedReport(
            report.sections,
            (entry, *main),
            report.comparisons,
            report.recommendations,
            tuple(other),
        )
    return report


def _mine_sentence(sentence: str, lower: str, section: str) -> list[MinedFinding]:
    mentions = find_mentions(lower)
    if not mentions:
        return []
    context = SentenceContext(lower)
    sizes = sorted(find_sizes(lower), key=lambda s: s.start)
    size_starts = [s.start for s in sizes]
    clauses = _Clauses(lower)
    kinds = changes(lower)
    result = []
    for mention in mentions:
        clause = clauses.around(mention)
        # sizes that can lie within reach (a size is far shorter than _SIZE_WINDOW)
        near = sizes[
            bisect_left(size_starts, mention.start - _SIZE_REACH - _SIZE_WINDOW) : bisect_right(
                size_starts, mention.end + _SIZE_REACH
            )
        ]
        size = min(
            (s for s in near if _distance(s.start, s.end, mention) <= _SIZE_REACH),
            key=lambda s: _distance(s.start, s.end, mention),
            default=None,
        )
        result.append(
            MinedFinding(
                label=mention.label,
                present=context.assertion(mention.start, mention.end),
                size_mm=None if size is None else size.size_mm,
                dims_mm=() if size is None else size.dims_mm,
                laterality=laterality(clause),
                site=site(clause),
                text=sentence,
                section=section,
                change=kinds[0] if kinds else None,
            )
        )
    return result


def _distance(start: int, end: int, mention: Mention) -> int:
    return max(mention.start - end, start - mention.end, 0)


class _Clauses:
    """The comma- or semicolon-delimited clause that holds a mention.

    A clause is cut to :data:`_CLAUSE_REACH` characters either side of the
    mention, so a run-on sentence without commas costs no more per mention.
    """

    def __init__(self, lower: str) -> None:
        self.lower = lower
        self.cuts = [i for i, c in enumerate(lower) if c in ",;"]

    def around(self, mention: Mention) -> str:
        i = bisect_left(self.cuts, mention.start)
        left = self.cuts[i - 1] + 1 if i else 0
        j = bisect_left(self.cuts, mention.end)
        right = self.cuts[j] if j < len(self.cuts) else len(self.lower)
        left = max(left, mention.start - _CLAUSE_REACH)
        right = min(right, mention.end + _CLAUSE_REACH)
        return self.lower[left:right]
