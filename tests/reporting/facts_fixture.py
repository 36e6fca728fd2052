"""A small fact set, as build_facts makes it, for writer and verifier tests."""

from __future__ import annotations

from radcycle.domain import Fact, FactKind, FactProvenance, RuleRecord

D0, D1 = "2025-01-06", "2025-04-07"
P = FactProvenance()
RULE = FactProvenance(rule=RuleRecord("RECIST", "1.1", "4.4"))


def _f(fid: str, kind: str, value, unit, name: str, when=None, tid=None, prov=P) -> Fact:
    uid = {"lesion 1": "2.25.101", "lesion 2": "2.25.102"}.get(tid or "")
    return Fact(fid, FactKind(kind), value, unit, uid, when, prov, name, tid)


def sample_facts() -> list[Fact]:
    """Two lung nodules over two CTs: lesion 1 (RUL, solid) grows, lesion 2 (LLL) is new."""
    return [
        _f(f"f-tech-{D0}-modality", "technique", "CT", None, "modality", D0),
        _f(f"f-tech-{D0}-slice_thickness", "technique", 1.25, "mm", "slice_thickness", D0),
        _f(f"f-tech-{D1}-modality", "technique", "CT", None, "modality", D1),
        _f("f-lesion-1-organ", "lesion", "lung", None, "organ", tid="lesion 1"),
        _f("f-lesion-1-side", "lesion", "right", None, "side", tid="lesion 1"),
        _f("f-lesion-1-lobe", "lesion", "RUL", None, "lobe", tid="lesion 1"),
        _f("f-lesion-1-kind", "lesion", "solid", None, "kind", tid="lesion 1"),
        _f(f"f-lesion-1-{D0}-long_axis", "measurement", 8.2, "mm", "long_axis", D0, "lesion 1"),
        _f(f"f-lesion-1-{D0}-short_axis", "measurement", 6.4, "mm", "short_axis", D0, "lesion 1"),
        _f(f"f-lesion-1-{D0}-status", "lesion", "baseline", None, "status", D0, "lesion 1"),
        _f(f"f-lesion-1-{D1}-long_axis", "measurement", 12.6, "mm", "long_axis", D1, "lesion 1"),
        _f(f"f-lesion-1-{D1}-short_axis", "measurement", 9.1, "mm", "short_axis", D1, "lesion 1"),
        _f(f"f-lesion-1-{D1}-volume", "measurement", 540.0, "mm3", "volume", D1, "lesion 1"),
        _f(f"f-lesion-1-{D1}-status", "lesion", "matched", None, "status", D1, "lesion 1"),
        _f(
            f"f-lesion-1-{D1}-change_from_baseline",
            "comparison",
            53.7,
            "%",
            "change_from_baseline",
            D1,
            "lesion 1",
        ),
        _f("f-lesion-2-organ", "lesion", "lung", None, "organ", tid="lesion 2"),
        _f("f-lesion-2-side", "lesion", "left", None, "side", tid="lesion 2"),
        _f("f-lesion-2-lobe", "lesion", "LLL", None, "lobe", tid="lesion 2"),
        _f("f-lesion-2-kind", "lesion", "ground-glass", None, "kind", tid="lesion 2"),
        _f(f"f-lesion-2-{D1}-long_axis", "measurement", 18.0, "mm", "long_axis", D1, "lesion 2"),
        _f(f"f-lesion-2-{D1}-short_axis", "measurement", 14.0, "mm", "short_axis", D1, "lesion 2"),
        _f(f"f-lesion-2-{D1}-status", "lesion", "new", None, "status", D1, "lesion 2"),
        _f(f"f-recist-{D1}", "response", "PD", None, "recist_category", D1, prov=RULE),
        _f(f"f-recist-{D1}-sum", "response", 12.6, "mm", "sum_of_diameters", D1, prov=RULE),
        _f("f-recist-baseline_sum", "response", 8.2, "mm", "sum_of_diameters", D0, prov=RULE),
        _f("f-recist-best", "response", "PD", None, "best_overall_response", prov=RULE),
        _f(f"f-lungrads-{D1}", "guideline", "4B", None, "lung-rads_category", D1),
        _f(
            f"f-lungrads-{D1}-next_exam", "guideline", "2025-07-07", None, "lung-rads_next_exam", D1
        ),
        _f(f"f-lungrads-{D1}-interval", "guideline", "3 months", None, "lung-rads_interval", D1),
        _f("f-rec-dx-1", "record", "Adenocarcinoma of lung", None, "diagnosis", "2024-11-02"),
        _f(
            "f-prior-1-1",
            "prior_finding",
            "nodule 6 mm right upper lobe",
            None,
            "prior_finding_uncertain",
            prov=FactProvenance(prior_report="prior.txt"),
        ),
    ]
