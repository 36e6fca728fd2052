"""report.json read for rendering: paragraphs by lesion, evidence, response table."""

from __future__ import annotations

from typing import Any

import pytest

from radcycle.domain.facts import Fact, FactProvenance
from radcycle.domain.provenance import RuleRecord
from radcycle.errors import DataFormatError
from radcycle.reporting.export.document import describe_fact, read_report, response_table


def _fact(fid: str, uid: str | None, value: Any, name: str, when: str = "2024-01-05") -> Fact:
    return Fact(fid, "measurement", value, "mm", uid, when, FactProvenance(), name, None)


def _report(sentences: list[tuple[str, list[str]]], facts: list[Fact]) -> dict[str, Any]:
    return {
        "sections": [
            {
                "name": "findings",
                "sentences": [{"id": sid, "text": sid, "fact_ids": ids} for sid, ids in sentences],
            }
        ],
        "facts": [f.to_dict() for f in facts],
    }


def test_findings_break_into_one_paragraph_per_lesion() -> None:
    facts = [_fact("a", "2.25.1", 10.0, "long_axis"), _fact("b", "2.25.2", 7.0, "long_axis")]
    view = read_report(
        _report([("s1", ["a"]), ("s2", ["a"]), ("s3", ["b"]), ("s4", []), ("s5", ["a"])], facts)
    )
    paragraphs = [[s.id for s in p] for p in view.paragraphs(view.sections[0])]
    assert paragraphs == [["s1", "s2"], ["s3", "s4"], ["s5"]]


def test_evidence_keeps_citation_order_and_skips_unknown_ids() -> None:
    facts = [_fact("a", "2.25.1", 10.0, "long_axis"), _fact("b", "2.25.2", 7.0, "long_axis")]
    view = read_report(_report([("s1", ["b", "zz", "a"])], facts))
    sentence = view.sections[0].sentences[0]
    assert [f.id for f in view.evidence(sentence)] == ["b", "a"]
    assert view.lesions_of(sentence) == ["2.25.2", "2.25.1"]


def test_describe_fact_names_value_and_rule() -> None:
    rule = FactProvenance(rule=RuleRecord("RECIST", "1.1", "4.3.1"))
    fact = Fact("r", "response", "PR", None, None, "2024-01-05", rule, "recist_overall")
    assert describe_fact(fact) == "recist overall: PR (2024-01-05) [RECIST 1.1 section 4.3.1]"
    assert describe_fact(_fact("v", None, 1234.56, "volume")) == "volume: 1235 mm (2024-01-05)"


def test_response_table_has_a_column_per_time_point() -> None:
    facts = [
        _fact("a", "2.25.1", 10.0, "long_axis", "2024-01-05"),
        _fact("b", "2.25.1", 8.0, "long_axis", "2024-04-05"),
    ]
    header, rows = response_table(read_report(_report([], facts)))
    assert header == ["", "2024-01-05", "2024-04-05"]
    assert rows == [["long axis", "10.0 mm", "8.0 mm"]]


@pytest.mark.parametrize(
    "report",
    [
        [],
        {"sections": [{"sentences": []}]},
        {"sections": [{"name": "x", "sentences": [{"id": "s1"}]}]},
        {"sections": [], "facts": [{"id": "bad id!", "kind": "measurement"}]},
    ],
)
def test_malformed_reports_are_refused(report: Any) -> None:
    with pytest.raises(DataFormatError):
        read_report(report)


def test_response_table_cells_are_never_blank() -> None:
    gone = Fact(
        "g",
        "lesion",
        "disappeared",
        None,
        "2.25.1",
        "2024-04-05",
        FactProvenance(),
        "assessment",
        "lesion 1",
    )
    facts = [
        Fact(
            "a",
            "measurement",
            10.0,
            "mm",
            "2.25.1",
            "2024-01-05",
            FactProvenance(),
            "long_axis",
            "lesion 1",
        ),
        gone,
        Fact(
            "b",
            "measurement",
            6.0,
            "mm",
            "2.25.2",
            "2024-04-05",
            FactProvenance(),
            "long_axis",
            "lesion 2",
        ),
        Fact("r", "response", "CR", None, None, "2024-04-05", FactProvenance(), "recist_category"),
    ]
    header, rows = response_table(read_report(_report([], facts)))
    assert header == ["", "2024-01-05", "2024-04-05"]
    assert rows == [
        ["lesion 1 long axis", "10.0 mm", "disappeared"],
        ["lesion 2 long axis", "not yet seen", "6.0 mm"],
        ["recist category", "not assessed", "CR"],
    ]
