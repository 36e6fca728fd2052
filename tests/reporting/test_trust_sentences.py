"""Image quality and measurement-noise sentences: written from facts, verified against them."""

from __future__ import annotations

import pytest

from radcycle.domain import Fact, FactKind, FactProvenance, RuleRecord
from radcycle.reporting.verifier import verify_sentence
from radcycle.reporting.writer import write_report

from .facts_fixture import D0, D1, sample_facts

LR = FactProvenance(rule=RuleRecord("Lung-RADS", "v2022", "Table 1"))
RECIST = FactProvenance(rule=RuleRecord("RECIST", "1.1", "4.3.1"))


def _f(fid: str, value, unit, name: str, when, tid=None, prov=FactProvenance()) -> Fact:
    uid = "2.25.101" if tid == "lesion 1" else None
    kind = (
        FactKind.TECHNIQUE
        if name.startswith(("image_", "quality", "contrast"))
        else (FactKind.GUIDELINE)
    )
    return Fact(fid, kind, value, unit, uid, when, prov, name, tid)


def trust_facts() -> list[Fact]:
    q = f"f-tech-{D0}-quality"
    near = f"f-lesion-1-{D0}-near-lung-rads-v2022-8-mm"
    sums = f"f-recist-{D1}-near-recist-1.1-20"
    return [
        _f(f"{q}-lung-nodules", "fit with caveats", None, "image_quality_lung-nodules", D0),
        _f(f"{q}-recist", "fit", None, "image_quality_recist", D0),
        _f(f"{q}-radiomics", "fit with caveats", None, "image_quality_radiomics", D0),
        _f(f"{q}-finding-thick-slices", "thick-slices", None, "quality_finding", D0),
        _f(f"{q}-finding-lungs-cut-off", "lungs-cut-off", None, "quality_finding", D0),
        _f(f"{q}-phase", "portal venous", None, "contrast_phase_from_image", D0),
        _f(near, "Lung-RADS v2022 8 mm", None, "near_threshold", D0, "lesion 1", LR),
        _f(f"{near}-band", 0.7, "mm", "noise_band", D0, "lesion 1", LR),
        _f(f"{near}-threshold", 8.0, "mm", "threshold", D0, "lesion 1", LR),
        _f(sums, "RECIST 1.1 +20%", None, "near_threshold", D1, prov=RECIST),
        _f(f"{sums}-band", 6.3, "%", "noise_band", D1, prov=RECIST),
        _f(f"{sums}-threshold", 20.0, "%", "threshold", D1, prov=RECIST),
    ]


def _sentences() -> dict[str, tuple[str, tuple[str, ...]]]:
    facts = [*sample_facts(), *trust_facts()]
    report = write_report(facts, "P1", "2025-04-08T09:00:00+00:00")
    return {s.text: (s.text, s.fact_ids) for sec in report.sections for s in sec.sentences}


def test_quality_and_noise_sentences_are_written_and_verified() -> None:
    facts = [*sample_facts(), *trust_facts()]
    written = _sentences()
    quality = f"Image quality on {D0}: fit with caveats for lung nodule detection, fit for "
    quality += (
        "RECIST 1.1 measurement, fit with caveats for radiomics (thick slices, lungs cut off)."
    )
    phase = f"Contrast phase from the aorta on {D0}: portal venous."
    size = (
        f"On {D0} its mean diameter lies within its measurement noise (±0.7 mm) of the "
        "Lung-RADS v2022 8 mm threshold; a repeat scan may fall on the other side."
    )
    change = (
        f"On {D1} the change of the sum of diameters lies within its measurement noise (±6.3%) "
        "of the RECIST 1.1 +20% threshold; a repeat scan may fall on the other side."
    )
    for text in (quality, phase, size, change):
        assert text in written, sorted(written)
        verdict = verify_sentence(text, facts, written[text][1])
        assert verdict.supported, (text, verdict.reasons)
        assert verify_sentence(text, facts).supported, text  # against all the facts too


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"Image quality on {D0}: fit for lung nodule detection.", "fit for lung-nodules"),
        (
            f"Image quality on {D0}: fit with caveats for radiomics (metal).",
            "'metal': no such quality finding",
        ),
        (f"Contrast phase from the aorta on {D0}: arterial.", "contrast phase arterial"),
        (
            f"On {D0} its long axis lies within its measurement noise (±2.0 mm) of the "
            "RECIST 1.1 10 mm threshold.",
            "no such value",
        ),
    ],
)
def test_wrong_quality_or_noise_sentences_are_rejected(text: str, reason: str) -> None:
    facts = [*sample_facts(), *trust_facts()]
    verdict = verify_sentence(text, facts)
    assert not verdict.supported
    assert any(reason in r for r in verdict.reasons), verdict.reasons


def test_noise_claim_without_a_fact_is_rejected() -> None:
    text = (
        f"On {D1} its long axis lies within its measurement noise (±0.7 mm) of the "
        "Lung-RADS v2022 8 mm threshold."
    )
    verdict = verify_sentence(text, sample_facts())
    assert not verdict.supported
