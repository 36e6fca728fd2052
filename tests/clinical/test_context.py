"""Negation and uncertainty (ConText style) on sentences seen in chest reports."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radcycle.clinical.nlp.context import SentenceContext
from radcycle.clinical.nlp.miner import mine_text


def assertion_of(sentence: str, target: str) -> object:
    lower = sentence.lower()
    start = lower.index(target)
    return SentenceContext(lower).assertion(start, start + len(target))


@pytest.mark.parametrize(
    ("sentence", "target", "expected"),
    [
        ("No pneumothorax.", "pneumothorax", False),
        ("Without evidence of effusion.", "effusion", False),
        (
            "No pneumonia, effusions, edema, pneumothorax, adenopathy, nodules or masses.",
            "masses",
            False,
        ),
        (
            "Lungs are clear of focal airspace disease, pneumothorax, or pleural effusion.",
            "pleural effusion",
            False,
        ),
        ("Pneumothorax is not seen.", "pneumothorax", False),
        ("Previously seen right effusion has resolved.", "effusion", False),
        ("Interval resolution of the left lower lobe infiltrate.", "infiltrate", False),
        ("Cannot exclude pneumonia.", "pneumonia", "uncertain"),
        ("Pneumonia cannot be excluded.", "pneumonia", "uncertain"),
        ("Findings may represent atelectasis.", "atelectasis", "uncertain"),
        ("Atelectasis versus infiltrate.", "infiltrate", True),  # a favoured differential
        ("Probable right basilar atelectasis.", "atelectasis", True),
        ("Is there pneumonia?", "pneumonia", "uncertain"),
        ("Small left pleural effusion.", "pleural effusion", True),
        ("No focal air space opacity to suggest a pneumonia.", "pneumonia", False),
        ("No change in the small left effusion.", "effusion", True),
        ("Opacity most suggestive of pulmonary edema.", "edema", True),
    ],
)
def test_assertion(sentence: str, target: str, expected: object) -> None:
    assert assertion_of(sentence, target) == expected


def test_scope_ends_at_termination() -> None:
    sentence = "No acute cardiopulmonary disease, however there is a small effusion."
    assert assertion_of(sentence, "effusion") is True


def test_scope_ends_at_but() -> None:
    assert assertion_of("No pneumothorax but a small right effusion.", "effusion") is True
    assert assertion_of("No pneumothorax but a small right effusion.", "pneumothorax") is False


def test_negation_does_not_cross_sentences() -> None:
    labels = mine_text("No pneumothorax. Small right pleural effusion.").labels()
    assert labels["Pneumothorax"] is False
    assert labels["Pleural Effusion"] is True


def test_negation_window_is_bounded() -> None:
    words = " ".join(["word"] * 30)
    assert assertion_of(f"No {words} effusion.", "effusion") is True


def test_negation_inside_the_phrase() -> None:
    assert mine_text("The heart is not enlarged.").labels()["Cardiomegaly"] is False
    assert mine_text("The heart is mildly enlarged.").labels()["Cardiomegaly"] is True


# Phrases that name exactly one observation each, for generated sentences.
_PHRASES = {
    "Pneumothorax": "pneumothorax",
    "Pleural Effusion": "pleural effusion",
    "Edema": "pulmonary edema",
    "Consolidation": "focal consolidation",
    "Cardiomegaly": "cardiomegaly",
    "Fracture": "acute fracture",
}


@given(
    st.lists(st.sampled_from(sorted(_PHRASES)), min_size=1, max_size=5, unique=True),
    st.sampled_from(["No", "Without", "Negative for", "No evidence of", "There is no"]),
    st.sampled_from([", or ", " or ", ", "]),
)
def test_negated_lists_negate_every_item(labels: list[str], trigger: str, glue: str) -> None:
    items = [_PHRASES[label] for label in labels]
    sentence = f"{trigger} {glue.join(items)}."
    found = mine_text(sentence).labels()
    assert {label: found[label] for label in labels} == dict.fromkeys(labels, False)
    assert found["No Finding"] is True


@given(
    st.sampled_from(sorted(_PHRASES)),
    st.sampled_from(sorted(_PHRASES)),
    st.sampled_from([". ", ", however there is ", " but there is ", "; "]),
)
def test_negation_stops_at_sentence_end_and_terminations(
    negated: str, affirmed: str, joint: str
) -> None:
    if negated == affirmed:
        return
    sentence = f"No {_PHRASES[negated]}{joint}{_PHRASES[affirmed]}."
    found = mine_text(sentence).labels()
    assert found[negated] is False
    assert found[affirmed] is True
    assert "No Finding" not in found
