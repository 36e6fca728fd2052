"""Deterministic writer and verified drafting over a mocked OpenAI-compatible server."""

from __future__ import annotations

import json

import httpx
import pytest

from radcycle.errors import InputError
from radcycle.reporting.drafting import draft_report
from radcycle.reporting.llm import (
    DraftingError,
    HttpBackend,
    HttpSettings,
    LlamaCppBackend,
    check_gguf,
    parse_draft,
)
from radcycle.reporting.report import DRAFT_STATUS, Report
from radcycle.reporting.verifier import verify_sentence
from radcycle.reporting.writer import write_report
from tests.reporting.facts_fixture import sample_facts

FACTS = sample_facts()
NOW = "2025-04-08T10:00:00+00:00"


def _report():
    return write_report(FACTS, "P1", NOW)


def test_every_deterministic_sentence_cites_facts_that_support_it() -> None:
    report = _report()
    sentences = report.sentences()
    assert len(sentences) > 10
    for s in sentences:
        verdict = verify_sentence(s.text, FACTS, s.fact_ids)
        assert verdict.supported, (s.text, verdict.reasons)
    doc = report.to_dict()
    assert doc["status"] == DRAFT_STATUS
    assert [sec["name"] for sec in doc["sections"]] == [
        "clinical_information",
        "technique",
        "comparison",
        "findings",
        "impression",
        "recommendations",
    ]
    text = report.to_text()
    assert "NOT FOR DIAGNOSTIC USE" in text
    assert "Lesion 1: solid nodule in the right upper lobe." in text
    assert "Lesion 2: ground-glass nodule in the left lower lobe." in text
    assert "next CT on or after 2025-07-07" in text


def _answer(report, rewrite) -> dict:
    sentences = [
        {"id": s.id, "text": rewrite(s.text), "fact_ids": list(s.fact_ids)}
        for s in report.sentences()
    ]
    content = json.dumps({"sentences": sentences})
    return {"choices": [{"message": {"role": "assistant", "content": content}}]}


def _backend(handler, **kw) -> HttpBackend:
    settings = HttpSettings("http://llm.test", model="m", backoff_s=0.0, **kw)
    return HttpBackend(settings, transport=httpx.MockTransport(handler))


def test_supported_model_sentences_are_kept_and_false_ones_replaced() -> None:
    report = _report()
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(json.loads(request.content))
        # one true rewording, one false claim (wrong side)
        return httpx.Response(
            200,
            json=_answer(
                report,
                lambda t: t.replace("right upper lobe", "left upper lobe").replace(
                    "CT of the chest", "Chest CT"
                ),
            ),
        )

    drafted = draft_report(report, _backend(handler))
    assert seen["response_format"]["type"] == "json_schema"
    assert drafted.writer == "llm:m"
    sources = {s.source for s in drafted.sentences()}
    assert sources == {"llm", "deterministic"}
    assert any("Chest CT" in s.text for s in drafted.sentences())
    assert all("left upper lobe" not in s.text for s in drafted.sentences())
    rejections = [r for r in drafted.rejections if "left upper lobe" in r.text]
    assert rejections
    for rejection in rejections:
        assert rejection.replaced_by is not None
        assert any("side" in r or "lobe" in r for r in rejection.reasons)


@pytest.mark.parametrize(
    "handler",
    [
        lambda r: httpx.Response(200, text="not json at all"),
        lambda r: httpx.Response(200, json={"choices": [{"message": {"content": "{oops"}}]}),
        lambda r: httpx.Response(503, text="busy"),
    ],
    ids=["not a completion", "invalid JSON content", "server error"],
)
def test_garbage_or_errors_leave_the_deterministic_draft_with_a_warning(handler) -> None:
    report = _report()
    drafted = draft_report(report, _backend(handler, retries=1))
    assert drafted.writer == "deterministic"
    assert [s.text for s in drafted.sentences()] == [s.text for s in report.sentences()]
    assert drafted.warnings
    assert "deterministic draft kept" in drafted.warnings[0]


def test_retries_with_backoff_then_succeeds() -> None:
    report = _report()
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=_answer(report, lambda t: t))

    drafted = draft_report(report, _backend(handler, retries=2))
    assert len(calls) == 3
    assert drafted.writer == "llm:m"
    assert not drafted.rejections


def test_down_and_slow_endpoints_raise_drafting_errors() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(DraftingError, match="no answer within"):
        _backend(slow, retries=1, timeout_s=0.1).complete("s", "p", {})
    down = HttpBackend(HttpSettings("http://127.0.0.1:9", retries=0, timeout_s=1.0))
    with pytest.raises(DraftingError, match="cannot connect"):
        down.complete("s", "p", {})


def test_parse_draft_keeps_only_well_formed_sentences() -> None:
    text = json.dumps({"sentences": [{"id": "s1", "text": "x", "fact_ids": []}, {"id": 3}]})
    assert parse_draft(text) == [{"id": "s1", "text": "x", "fact_ids": []}]
    with pytest.raises(DraftingError):
        parse_draft("[]")


def test_a_file_that_is_not_gguf_is_refused(tmp_path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(InputError, match="not a GGUF"):
        check_gguf(bad)
    with pytest.raises(InputError, match="not a GGUF"):
        LlamaCppBackend(bad)


def test_report_json_round_trip() -> None:
    report = _report()
    back = Report.from_dict(json.loads(json.dumps(report.to_dict())))
    assert back.to_dict() == report.to_dict()
