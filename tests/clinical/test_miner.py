"""Report mining: sections, labels, attributes, comparisons, recommendations."""

from __future__ import annotations

from radcycle.clinical.nlp import CHEXPERT_LABELS, mine_text
from radcycle.clinical.nlp.sections import split_sections, split_sentences

REPORT = """\
INDICATION: Cough, history of pneumonia.
COMPARISON: Chest CT 2024-01-02.
FINDINGS: Heart size is normal. 1.2 x 0.8 cm nodule in the right upper lobe, increased
since the prior study. No pneumothorax. Small left pleural effusion.
The previously seen right lower lobe consolidation has resolved.
IMPRESSION: 1. Enlarging right upper lobe nodule. 2. Cannot exclude pneumonia.
RECOMMENDATION: Follow-up CT in 3 months.
"""


def test_sections_and_sentences() -> None:
    sections = split_sections(REPORT)
    assert list(sections) == [
        "indication",
        "comparison",
        "findings",
        "impression",
        "recommendation",
    ]
    assert split_sentences(sections["impression"]) == [
        "Enlarging right upper lobe nodule.",
        "Cannot exclude pneumonia.",
    ]


def test_labels_and_attributes() -> None:
    report = mine_text(REPORT)
    labels = report.labels()
    assert labels["Lung Lesion"] is True
    assert labels["Pneumothorax"] is False
    assert labels["Pleural Effusion"] is True
    assert labels["Consolidation"] is False
    assert labels["Pneumonia"] == "uncertain"  # the indication's history is not mined
    nodule = next(f for f in report.findings if f.label == "Lung Lesion" and f.size_mm)
    assert (nodule.size_mm, nodule.dims_mm) == (12.0, (12.0, 8.0))
    assert (nodule.laterality, nodule.site) == ("right", "upper lobe")
    effusion = next(f for f in report.findings if f.label == "Pleural Effusion")
    assert effusion.laterality == "left"


def test_comparisons_and_recommendations() -> None:
    report = mine_text(REPORT)
    kinds = {c.change for c in report.comparisons}
    assert {"increased", "resolved"} <= kinds
    resolved = next(c for c in report.comparisons if c.change == "resolved")
    assert resolved.labels == ("Consolidation",)
    (rec,) = report.recommendations
    assert (rec.interval, rec.interval_days, rec.procedure) == ("3 months", 90, "CT")


def test_no_finding_only_when_nothing_else() -> None:
    normal = mine_text("FINDINGS: No pneumothorax or effusion. IMPRESSION: Normal chest.")
    assert normal.labels()["No Finding"] is True
    uncertain = mine_text("IMPRESSION: Possible small effusion.")
    assert "No Finding" not in uncertain.labels()
    incidental = mine_text("IMPRESSION: No acute disease. Calcified granuloma.")
    assert "No Finding" not in incidental.labels()


def test_to_dict_uses_the_fourteen_names() -> None:
    data = mine_text(REPORT).to_dict()
    assert {f["label"] for f in data["findings"]} <= set(CHEXPERT_LABELS)
    assert set(data) >= {"findings", "comparisons", "recommendations", "sections"}
    assert all(f["present"] in (True, False, "uncertain") for f in data["findings"])
    assert list(data["labels"]) == list(CHEXPERT_LABELS)
    assert data["labels"]["Pneumothorax"] is False
    assert data["labels"]["Edema"] is None


def test_plain_text_without_headers_is_findings() -> None:
    assert mine_text("Large right pneumothorax.").labels()["Pneumothorax"] is True
