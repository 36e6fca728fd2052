"""Plain summaries of a clinical record and of a mined report, ready for JSON.

Example:
    >>> mine_document("FINDINGS: No pneumothorax.").labels()["Pneumothorax"]
    False
"""

from __future__ import annotations

from datetime import date
from typing import Any

from radcycle.clinical.nlp.miner import MinedReport, mine_sections, mine_text
from radcycle.clinical.nlp.sections import MINED_SECTIONS
from radcycle.clinical.openi import looks_like_openi, parse_openi
from radcycle.clinical.text import decode_text
from radcycle.clinical.timeline import (
    LineOfTherapy,
    build_timeline,
    current_treatment,
    lab_trends,
    lines_of_therapy,
)
from radcycle.domain.clinical import ClinicalRecord
from radcycle.errors import InputError

__all__ = ["mine_document", "record_summary"]


def mine_document(data: str | bytes, *, source: str | None = None) -> MinedReport:
    """Mine a report given as plain text or as an Open-i XML document.

    Args:
        data: the file content (the encoding is found from its mark or declaration).
        source: the file name, for error messages.

    Raises:
        InputError: the document is empty, too large, or its mined sections are empty.
        DataFormatError: the bytes are not text, or not well-formed XML.
    """
    text = decode_text(data, source=source)
    if not looks_like_openi(text):
        return mine_text(text)
    sections = parse_openi(text, source=source).sections
    if not any(sections.get(name, "").strip() for name in MINED_SECTIONS):
        raise InputError(
            "the report holds no findings, impression or recommendation text", path=source
        )
    return mine_sections(sections)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _line(line: LineOfTherapy | None) -> dict[str, Any] | None:
    if line is None:
        return None
    return {
        "number": line.number,
        "agents": list(line.agents),
        "classes": list(line.classes),
        "start": _iso(line.start),
        "end": _iso(line.end),
        "immunotherapy": line.immunotherapy,
        "sources": list(line.sources),
    }


def _prior_findings(text: str) -> list[dict[str, Any]]:
    """Findings asserted present or uncertain in a prior report's text (structured priors)."""
    keys = ("label", "present", "size_mm", "laterality", "site", "change", "text")
    return [
        {key: getattr(f, key) for key in keys}
        for f in mine_text(text).findings
        if f.present is not False
    ]


def record_summary(record: ClinicalRecord) -> dict[str, Any]:
    """The timeline summary of ``radcycle record``: every fact with its source.

    Returns:
        patient, diagnoses, lines_of_therapy, labs (latest value with trend),
        genomics, smoking, studies (with the treatment current at each study
        date), procedures, reports (with the findings mined from their text),
        timeline and errors.
    """
    lines = lines_of_therapy(record.medications)
    patient = record.patient
    return {
        "patient": None
        if patient is None
        else {
            "id": patient.patient_id,
            "birth_date": _iso(patient.birth_date),
            "sex": patient.sex,
            "source": record.patient_source,
        },
        "diagnoses": [
            {
                "date": _iso(d.date),
                "code": d.code,
                "name": d.name,
                "stage": d.stage,
                "source": d.source,
            }
            for d in record.diagnoses
        ],
        "lines_of_therapy": [_line(line) for line in lines],
        "labs": [
            {
                "name": t.name,
                "code": t.code,
                "unit": t.unit,
                "latest": t.latest.value,
                "latest_date": _iso(t.latest.date),
                "baseline": t.baseline.value,
                "baseline_date": _iso(t.baseline.date),
                "count": t.count,
                "ratio_to_baseline": t.ratio_to_baseline,
                "doubled": t.doubled,
                "doubling_time_days": t.doubling_time_days,
                "above_reference": t.above_reference,
                "reference_high": t.latest.reference_high,
                "sources": list(t.sources),
            }
            for t in lab_trends(record.labs)
        ],
        "results": [
            {
                "kind": lab.kind,
                "date": _iso(lab.date),
                "name": lab.name,
                "code": lab.code,
                "value": lab.value_text or lab.value,
                "source": lab.source,
            }
            for lab in record.labs
            if lab.kind in ("smoking", "genomic")
        ],
        "studies": [
            {
                "date": _iso(s.date),
                "study_instance_uid": s.study_instance_uid,
                "modality": s.modality,
                "description": s.description,
                "current_treatment": _line(current_treatment(lines, s.date)) if s.date else None,
                "source": s.source,
            }
            for s in sorted(record.studies, key=lambda s: s.date or date.min)
        ],
        "procedures": [
            {"date": _iso(p.date), "name": p.name, "category": p.category, "source": p.source}
            for p in record.procedures
        ],
        "reports": [
            {
                "date": _iso(r.date),
                "title": r.title,
                "category": r.category,
                "chars": len(r.text),
                "source": r.source,
                "prior_findings": _prior_findings(r.text),
            }
            for r in record.reports
        ],
        "timeline": [
            {"date": _iso(e.date), "kind": e.kind, "summary": e.summary, "source": e.source}
            for e in build_timeline(record)
        ],
        "errors": [
            {"resource_type": i.resource_type, "id": i.resource_id, "message": i.message}
            for i in record.issues
        ],
    }
