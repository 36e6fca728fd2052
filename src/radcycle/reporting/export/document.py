"""The report.json document read into what the HTML and PDF renderers show.

:func:`read_report` checks the shape of report.json (sections -> sentences -> fact
ids, facts) and gives a :class:`ReportView`: sections and sentences in order, the
facts by id, the evidence of every sentence (its facts in words, and the tracking
UIDs of the lesions they concern, for the key images), and the response table
(lesions and guideline results across time points). Both renderers show exactly
this, so HTML and PDF never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from radcycle.domain.facts import Fact, FactKind
from radcycle.errors import DataFormatError, InputError
from radcycle.reporting.report import Section, Sentence

__all__ = ["ReportView", "describe_fact", "read_report", "response_table"]

# Measurements shown in the response table (RECIST diameters).
_TABLE_MEASUREMENTS = ("long_axis", "short_axis")


@dataclass(frozen=True)
class ReportView:
    """What a rendered report shows."""

    status: str
    patient_id: str
    generated: str
    writer: str
    sections: tuple[Section, ...]
    facts: Mapping[str, Fact]
    rejections: tuple[Mapping[str, Any], ...]
    warnings: tuple[str, ...] = ()

    def evidence(self, sentence: Sentence) -> list[Fact]:
        """The facts a sentence cites, in citation order (unknown ids left out)."""
        return [self.facts[i] for i in sentence.fact_ids if i in self.facts]

    def paragraphs(self, section: Section) -> list[list[Sentence]]:
        """A section's sentences in paragraphs: a new one where the lesion spoken of changes.

        Sentences about no lesion stay in the paragraph they follow, so the findings
        read lesion by lesion and the other sections stay one paragraph.
        """
        out: list[list[Sentence]] = []
        current: str | None = None
        for s in section.sentences:
            lesions = self.lesions_of(s)
            first = lesions[0] if lesions else None
            if not out or (first is not None and current is not None and first != current):
                out.append([])
            current = first or current
            out[-1].append(s)
        return out

    def lesions_of(self, sentence: Sentence) -> list[str]:
        """Tracking UIDs of the lesions a sentence's facts concern, first-cited first."""
        uids = [f.tracking_uid for f in self.evidence(sentence) if f.tracking_uid]
        return list(dict.fromkeys(uids))


def _sentence(data: Mapping[str, Any], where: str) -> Sentence:
    try:
        return Sentence(
            id=str(data["id"]),
            text=str(data["text"]),
            fact_ids=tuple(str(i) for i in data.get("fact_ids") or ()),
            source=str(data.get("source", "")),
            verified=bool(data.get("verified", False)),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataFormatError(f"{where}: sentence lacks field {exc}") from exc


def _section(data: Mapping[str, Any], n: int) -> Section:
    where = f"report.json sections[{n}]"
    if not isinstance(data, Mapping) or "name" not in data:
        raise DataFormatError(f"{where}: not a section with a name")
    sentences = data.get("sentences") or ()
    if not isinstance(sentences, Sequence):
        raise DataFormatError(f"{where}: sentences is not a list")
    try:
        return Section(str(data["name"]), tuple(_sentence(s, where) for s in sentences))
    except InputError as exc:
        if isinstance(exc, DataFormatError):
            raise
        raise DataFormatError(f"{where}: {exc.message}", value=data["name"]) from exc


def read_report(report: Mapping[str, Any]) -> ReportView:
    """Read a report.json document.

    Raises:
        DataFormatError: a section, sentence or fact is malformed.

    Example:
        >>> view = read_report({"status": "draft", "sections": [{"name": "impression",
        ...     "sentences": [{"id": "s1", "text": "No nodule.", "fact_ids": []}]}]})
        >>> view.sections[0].title, view.sections[0].sentences[0].text
        ('Impression', 'No nodule.')
    """
    if not isinstance(report, Mapping):
        raise DataFormatError("report.json is not an object")
    sections = report.get("sections") or ()
    try:
        facts = {f.id: f for f in (Fact.from_dict(d) for d in report.get("facts") or ())}
    except (InputError, AttributeError) as exc:
        raise DataFormatError(f"report.json facts: {exc}") from exc
    patient = report.get("patient") or {}
    return ReportView(
        status=str(report.get("status") or ""),
        patient_id=str(patient.get("id") or "unknown"),
        generated=str(report.get("generated") or ""),
        writer=str(report.get("writer") or ""),
        # a section without a sentence is not shown (as in the plain text)
        sections=tuple(
            section
            for section in (_section(s, n) for n, s in enumerate(sections))
            if section.sentences
        ),
        facts=facts,
        rejections=tuple(r for r in report.get("rejections") or () if isinstance(r, Mapping)),
        warnings=tuple(str(w) for w in report.get("warnings") or ()),
    )


def _number(value: float, unit: str | None) -> str:
    digits = 0 if unit == "mm3" or abs(value) >= 1000 else 1
    return f"{value:.{digits}f}"


def format_value(fact: Fact) -> str:
    """A fact's value with its unit, as a report shows it.

    Example:
        >>> from radcycle.domain.facts import FactProvenance
        >>> format_value(Fact("f1", "measurement", 21.63, "mm", None, None, FactProvenance()))
        '21.6 mm'
    """
    value = fact.value
    if isinstance(value, float | int) and not isinstance(value, bool):
        text = _number(float(value), fact.unit)
    else:
        text = "not given" if value is None else str(value)
    return f"{text} {fact.unit}" if fact.unit and value is not None else text


def describe_fact(fact: Fact) -> str:
    """One line of evidence: what, value, lesion, time point, and where it came from."""
    what = fact.name.replace("_", " ") or fact.kind.value
    where = ", ".join(x for x in (fact.tracking_identifier, fact.time_point) if x)
    source = []
    prov = fact.provenance
    if prov.rule is not None:
        source.append(prov.rule.cite())
    if prov.algorithm is not None:
        source.append(f"{prov.algorithm.name} {prov.algorithm.version}")
    source += [f"series {ref.series_instance_uid}" for ref in prov.images[:1]]
    source += [x for x in (prov.mask, prov.fhir_resource, prov.prior_report) if x]
    text = f"{what}: {format_value(fact)}"
    text += f" ({where})" if where else ""
    return text + (f" [{'; '.join(source)}]" if source else "")


def response_table(view: ReportView) -> tuple[list[str], list[list[str]]]:
    """Lesion diameters and guideline results across time points.

    Returns:
        the header (``""`` then the time points in order) and one row per lesion
        measurement or guideline result (its label, then a cell per time point).
        No cell is blank: a lesion without a value says its assessment
        (``disappeared``, ``not evaluated``) or ``not yet seen`` (before it was
        first seen); a guideline without a result there says ``not assessed``.
    """
    cells: dict[tuple[str, str], dict[str, str]] = {}
    times: list[str] = []
    # a lesion's assessment where it has no value (disappeared, not evaluated)
    assessed: dict[tuple[str, str], str] = {}
    for fact in view.facts.values():
        if fact.name == "assessment" and fact.tracking_identifier and fact.time_point:
            assessed[(fact.tracking_identifier, fact.time_point)] = str(fact.value)
        shown = fact.kind in (FactKind.RESPONSE, FactKind.GUIDELINE) or (
            fact.kind == FactKind.MEASUREMENT and fact.name in _TABLE_MEASUREMENTS
        )
        if not shown or not fact.time_point:
            continue
        key = (fact.tracking_identifier or "", fact.name.replace("_", " ") or fact.kind.value)
        cells.setdefault(key, {})[fact.time_point] = format_value(fact)
        times.append(fact.time_point)
    order = sorted(set(times))

    def cell(who: str, what: str, when: str) -> str:
        found = cells[(who, what)].get(when)
        if found is not None:
            return found
        if not who:
            return "not assessed"
        return assessed.get((who, when), "not yet seen")

    rows = [
        [f"{who} {what}".strip(), *(cell(who, what, t) for t in order)]
        for who, what in sorted(cells, key=lambda k: (k[0] == "", k))
    ]
    return ["", *order], rows
