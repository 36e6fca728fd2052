"""Fluent drafting by a model, sentence by sentence verified, the deterministic
sentence kept wherever the model's is not supported.

The model gets the facts and the deterministic outline (sentence ids, texts and
fact ids) as JSON, and answers one sentence per outline id with the facts it
states. Each answer goes through :func:`~radcycle.reporting.verifier.verify_sentence`
against the facts it cites; a rejected or missing sentence is replaced by the
deterministic one and listed (with the reasons) in the report's ``rejections``.
A model that is down, slow or answers garbage leaves the deterministic draft,
with a warning.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace

from radcycle.reporting.llm import DraftBackend, DraftingError, draft_schema, parse_draft
from radcycle.reporting.report import Rejection, Report, Section, Sentence
from radcycle.reporting.verifier import verify_sentence

__all__ = ["SYSTEM_PROMPT", "build_prompt", "draft_report"]

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are drafting a radiology report. Rewrite each outline sentence in concise, "
    "fluent radiology style. State only what the cited facts say: same numbers (you may "
    "round or convert mm to cm), same sides, lobes, dates, categories and directions of "
    "change. Keep each sentence's id and list the ids of the facts it states. Answer JSON."
)


def build_prompt(report: Report) -> str:
    """The user message: facts and the outline, as JSON (no pixels, no names)."""
    facts = [
        {
            "id": f.id,
            "name": f.name,
            "value": f.value,
            "unit": f.unit,
            "lesion": f.tracking_identifier,
            "date": f.time_point,
        }
        for f in report.facts
    ]
    outline = [
        {"id": s.id, "section": sec.name, "text": s.text, "fact_ids": list(s.fact_ids)}
        for sec in report.sections
        for s in sec.sentences
    ]
    return json.dumps({"facts": facts, "outline": outline}, separators=(",", ":"))


def draft_report(report: Report, backend: DraftBackend, max_chars: int = 400) -> Report:
    """Redraft a deterministic report with ``backend``, verified sentence by sentence.

    Args:
        report: from :func:`~radcycle.reporting.writer.write_report`.
        backend: the drafting model.
        max_chars: longest sentence the answer's schema allows.

    Returns:
        The report with the model's supported sentences (``source: "llm"``), the
        deterministic ones elsewhere, the rejections and warnings.
    """
    try:
        schema = draft_schema(
            [s.id for s in report.sentences()], [f.id for f in report.facts], max_chars
        )
        answer = parse_draft(backend.complete(SYSTEM_PROMPT, build_prompt(report), schema))
    except DraftingError as exc:
        warning = f"drafting model unavailable, deterministic draft kept: {exc}"
        log.warning(warning)
        return replace(report, warnings=(*report.warnings, warning))
    drafted = {item["id"]: item for item in answer}
    rejections: list[Rejection] = []
    sections = []
    used = 0
    for section in report.sections:
        sentences = []
        for s in section.sentences:
            item = drafted.pop(s.id, None)
            if item is None:
                rejections.append(Rejection("", ("the model left this sentence out",), s.id))
                sentences.append(s)
                continue
            verdict = verify_sentence(item["text"], report.facts, item["fact_ids"])
            if verdict.supported:
                used += 1
                sentences.append(Sentence(s.id, item["text"], tuple(item["fact_ids"]), "llm"))
            else:
                rejections.append(Rejection(item["text"], verdict.reasons, s.id))
                sentences.append(s)
        sections.append(Section(section.name, tuple(sentences)))
    for extra in drafted.values():
        rejections.append(Rejection(extra["text"], ("not a sentence of the outline",), None))
    warnings = list(report.warnings)
    total = len(report.sentences())
    if used < total:
        warnings.append(
            f"{total - used} of {total} sentences kept from the deterministic draft "
            "(the model's were rejected or missing; see rejections)"
        )
    return replace(
        report,
        writer=backend.name,
        sections=tuple(sections),
        rejections=tuple(rejections),
        warnings=tuple(warnings),
    )
