"""The verifier: each kind of false claim is caught, true paraphrases pass."""

from __future__ import annotations

import pytest

from radcycle.reporting.claims import read_claims, split_sentences
from radcycle.reporting.verifier import verify_sentence
from tests.reporting.facts_fixture import sample_facts

FACTS = sample_facts()

TRUE = [
    "Lesion 1, a solid nodule in the right upper lobe, measures 12.6 x 9.1 mm on 2025-04-07.",
    "The RUL nodule now measures 1.3 x 0.9 cm.",
    "Lesion 1 has increased by 54% from baseline.",
    "Lesion 1 measured 8 mm on 6 January 2025.",
    "A new ground-glass nodule in the left lower lobe measures 18 mm (lesion 2).",
    "RECIST 1.1 response on 2025-04-07: progressive disease.",
    "Best overall response: PD.",
    "Lung-RADS v2022 category 4B on 2025-04-07.",
    "Lung-RADS: next CT on or after 2025-07-07 (in 3 months).",
    "CT of the chest on 2025-01-06, 1.25 mm slices.",
    "Prior report: possible 6 mm nodule in the right upper lobe.",
    "Known adenocarcinoma of lung.",
    "Lesion 1 volume 540 mm3.",
]

FALSE = {
    "wrong side": "Lesion 1, a solid nodule in the left lung, measures 12.6 mm.",
    "wrong lobe": "The solid nodule in the right lower lobe measures 12.6 mm.",
    "8 vs 18 mm": "The ground-glass nodule in the left lower lobe measures 8 mm.",
    "cm/mm": "Lesion 1 measures 12.6 cm.",
    "mm/cm": "Lesion 2 measures 1.8 mm.",
    "stable when PD": "Lesion 1 is stable.",
    "decreased when grown": "Lesion 1 has decreased in size.",
    "invented lesion": "Lesion 7 measures 5 mm.",
    "invented nodule": "A 9 mm solid nodule in the left upper lobe.",
    "invented lymph node": "A 12 mm right hilar lymph node.",
    "wrong category": "RECIST 1.1 response on 2025-04-07: partial response.",
    "wrong Lung-RADS": "Lung-RADS v2022 category 3 on 2025-04-07.",
    "wrong date": "Lesion 1 measures 12.6 x 9.1 mm on 2025-05-07.",
    "dropped negation": "New lesion on 2025-01-06.",
    "certain from hedged": "Prior report: 6 mm nodule in the right upper lobe.",
    "wrong percent": "Lesion 1 has increased by 25% from baseline.",
    "invented metastasis": "Lesion 2 is a metastasis.",
    "wrong type": "Lesion 1 is a ground-glass nodule.",
    "wrong interval": "Lung-RADS: next CT in 12 months.",
}


@pytest.mark.parametrize("text", TRUE)
def test_true_sentences_are_supported(text: str) -> None:
    verdict = verify_sentence(text, FACTS)
    assert verdict.supported, verdict.reasons
    assert verdict.fact_ids


@pytest.mark.parametrize("case", sorted(FALSE))
def test_false_sentences_are_caught(case: str) -> None:
    verdict = verify_sentence(FALSE[case], FACTS)
    assert not verdict.supported, case
    assert verdict.reasons


def test_cited_sentence_is_checked_against_its_citations_only() -> None:
    text = "Lesion 1 measures 12.6 mm."
    assert verify_sentence(text, FACTS, ["f-lesion-1-2025-04-07-long_axis"]).supported
    # true of the analysis, but not of what it cites
    wrong = verify_sentence(text, FACTS, ["f-lesion-2-2025-04-07-long_axis"])
    assert not wrong.supported
    assert "no citation" in verify_sentence(text, FACTS, []).reasons
    assert any("unknown" in r for r in verify_sentence(text, FACTS, ["f-nope"]).reasons)
    gibberish = verify_sentence("qz!x k9 abba", FACTS, ["f-lesion-1-organ"])
    assert not gibberish.supported


def test_no_new_lesion_claim_is_checked_against_the_whole_fact_set() -> None:
    assert not verify_sentence("No new lesion on 2025-04-07.", FACTS).supported
    assert verify_sentence("No new lesion on 2025-01-06.", FACTS).supported


def test_claims_reader_and_sentence_splitter() -> None:
    c = read_claims("Lesion 3 in the LUL decreased to 0.8 cm on Apr 7, 2025; possibly benign.")
    assert c.lesion_ids == ["lesion 3"]
    assert c.lobes == {"LUL"}
    assert c.dates == ["2025-04-07"]
    assert c.quantities[0].value == pytest.approx(8.0)
    assert c.directions == {-1}
    assert c.hedged
    assert split_sentences("It measures 1.2 cm. It is new.") == [
        "It measures 1.2 cm.",
        "It is new.",
    ]


def _assessed(value: str, when: str) -> list:
    from radcycle.domain import Fact, FactKind, FactProvenance, RuleRecord

    section = "4.3.2" if value == "disappeared" else "4.4.2"
    prov = FactProvenance(rule=RuleRecord("RECIST", "1.1", section))
    base = f"f-lesion-1-{when}"
    return [
        Fact(
            f"{base}-assessment",
            FactKind.LESION,
            value,
            None,
            "2.25.101",
            when,
            prov,
            "assessment",
            "lesion 1",
        ),
        Fact(
            f"{base}-assessment_reason",
            FactKind.LESION,
            "mapped position outside the scan",
            None,
            "2.25.101",
            when,
            prov,
            "assessment_reason",
            "lesion 1",
        ),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "On 2025-05-07 it was not evaluated.",
        "On 7 May 2025 it was not evaluated.",
        "Lesion 1 was not assessable on 2025-05-07.",
    ],
)
def test_a_not_evaluated_lesion_is_said_so_with_its_date(text: str) -> None:
    facts = [*FACTS, *_assessed("not evaluated", "2025-05-07")]
    cited = ["f-lesion-1-2025-05-07-assessment", "f-lesion-1-2025-05-07-assessment_reason"]
    assert verify_sentence(text, facts, cited).supported, verify_sentence(text, facts, cited)
    assert verify_sentence(text, facts).supported


def test_disappeared_and_not_evaluated_are_held_to_their_dates() -> None:
    facts = [*FACTS, *_assessed("disappeared", "2025-05-07")]
    assert verify_sentence("On 2025-05-07 lesion 1 is no longer seen.", facts).supported
    assert not verify_sentence("On 2025-04-07 lesion 1 is no longer seen.", facts).supported
    assert not verify_sentence("On 2025-05-07 lesion 1 was not evaluated.", facts).supported


def test_lung_rads_not_applicable_is_checked() -> None:
    from dataclasses import replace

    na = [
        replace(f, value="not applicable") if f.id == "f-lungrads-2025-04-07" else f for f in FACTS
    ]
    text = "Lung-RADS v2022 (a screening scheme) is not applicable on 2025-04-07."
    assert verify_sentence(text, na, ["f-lungrads-2025-04-07"]).supported
    assert not verify_sentence(text, FACTS, ["f-lungrads-2025-04-07"]).supported
    assert not verify_sentence("Lung-RADS v2022 category 4B on 2025-04-07.", na).supported
