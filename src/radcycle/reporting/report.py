"""The report document: sections of sentences, each citing the facts it states.

:class:`Report` is what ``report.json`` holds (schema version 1): the patient, the
writer, the sections in radiology order, the facts, and the sentences a drafting
model wrote that the verifier rejected (with the deterministic sentence that
replaced each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from radcycle.domain import Fact
from radcycle.errors import DataFormatError, InputError

__all__ = [
    "DRAFT_STATUS",
    "REPORT_SCHEMA_VERSION",
    "SECTIONS",
    "Rejection",
    "Report",
    "Section",
    "Sentence",
]

REPORT_SCHEMA_VERSION = "1"
DRAFT_STATUS = "draft - not for diagnostic use until signed"
#: Section names in report order, with their titles.
SECTIONS = {
    "clinical_information": "Clinical information",
    "technique": "Technique",
    "comparison": "Comparison",
    "findings": "Findings",
    "impression": "Impression",
    "recommendations": "Recommendations",
}


@dataclass(frozen=True)
class Sentence:
    """One sentence and the ids of the facts it states.

    Example:
        >>> Sentence("s1", "Lesion 1 measures 12 mm.", ("f-1",)).to_dict()["source"]
        'deterministic'
    """

    id: str
    text: str
    fact_ids: tuple[str, ...]
    source: str = "deterministic"
    verified: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "fact_ids": list(self.fact_ids),
            "source": self.source,
            "verified": self.verified,
        }


@dataclass(frozen=True)
class Section:
    """A report section (name from :data:`SECTIONS`)."""

    name: str
    sentences: tuple[Sentence, ...]

    def __post_init__(self) -> None:
        if self.name not in SECTIONS:
            raise InputError(f"section must be one of {', '.join(SECTIONS)}", value=self.name)

    @property
    def title(self) -> str:
        return SECTIONS[self.name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "sentences": [s.to_dict() for s in self.sentences],
        }


@dataclass(frozen=True)
class Rejection:
    """A drafted sentence the verifier refused, why, and what replaced it."""

    text: str
    reasons: tuple[str, ...]
    replaced_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "reasons": list(self.reasons), "replaced_by": self.replaced_by}


@dataclass(frozen=True)
class Report:
    """A drafted report (see the module docstring)."""

    patient_id: str
    generated: str
    writer: str
    sections: tuple[Section, ...]
    facts: tuple[Fact, ...]
    rejections: tuple[Rejection, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())

    def sentences(self) -> list[Sentence]:
        return [s for section in self.sections for s in section.sentences]

    def to_dict(self) -> dict[str, Any]:
        """The ``report.json`` document."""
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "status": DRAFT_STATUS,
            "patient": {"id": self.patient_id, "name": None},
            "generated": self.generated,
            "writer": self.writer,
            "sections": [s.to_dict() for s in self.sections],
            "facts": [f.to_dict() for f in self.facts],
            "rejections": [r.to_dict() for r in self.rejections],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """Rebuild from a ``report.json`` document.

        Raises:
            DataFormatError: a field is missing or malformed.
        """
        try:
            sections = tuple(
                Section(
                    sec["name"],
                    tuple(
                        Sentence(
                            s["id"],
                            s["text"],
                            tuple(s["fact_ids"]),
                            s.get("source", "deterministic"),
                            bool(s.get("verified", True)),
                        )
                        for s in sec["sentences"]
                    ),
                )
                for sec in data["sections"]
            )
            return cls(
                str((data.get("patient") or {}).get("id", "")),
                str(data.get("generated", "")),
                str(data.get("writer", "deterministic")),
                sections,
                tuple(Fact.from_dict(f) for f in data["facts"]),
                tuple(
                    Rejection(r["text"], tuple(r["reasons"]), r.get("replaced_by"))
                    for r in data.get("rejections") or ()
                ),
                tuple(data.get("warnings") or ()),
            )
        except (KeyError, TypeError, InputError) as exc:
            raise DataFormatError(f"report.json is malformed: {exc}") from exc

    def to_text(self) -> str:
        """Plain text: the status line, then each section with its title."""
        lines = [f"RADIOLOGY REPORT ({DRAFT_STATUS.upper()})", f"Patient: {self.patient_id}", ""]
        for section in self.sections:
            if not section.sentences:
                continue
            lines.append(section.title.upper())
            lines.extend(s.text for s in section.sentences)
            lines.append("")
        return "\n".join(lines)


def number_sentences(
    sections: Sequence[tuple[str, Sequence[tuple[str, tuple[str, ...]]]]],
) -> tuple[Section, ...]:
    """Sections of (text, fact ids) pairs -> numbered :class:`Section` records."""
    out, n = [], 0
    for name, items in sections:
        sentences = []
        for text, ids in items:
            n += 1
            sentences.append(Sentence(f"s{n}", text, ids))
        out.append(Section(name, tuple(sentences)))
    return tuple(out)
