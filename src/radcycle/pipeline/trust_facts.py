"""Facts that say how far a report can trust its images and its numbers.

Two kinds, added to :func:`radcycle.pipeline.facts.build_facts`:

* image quality per study (:func:`radcycle.imaging.qc.assess`): the verdict per
  analysis (``image_quality_<analysis>``), each finding behind it
  (``quality_finding``), and the contrast phase the aorta shows
  (``contrast_phase_from_image``);
* measurements within their own noise of a threshold
  (:mod:`radcycle.guidelines.noise_band`): a lesion's size near a Lung-RADS
  v2022 or RECIST 1.1 measurability threshold, or a sum's change near the
  RECIST 1.1 response thresholds; each as ``near_threshold`` (the threshold's
  name), ``noise_band`` (the band's half-width) and ``threshold`` (its value).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from radcycle.domain import AlgorithmRecord, Fact, FactKind, FactProvenance, RuleRecord
from radcycle.guidelines.noise_band import (
    NearThreshold,
    near_change_thresholds,
    near_size_thresholds,
)
from radcycle.imaging.qc import assess
from radcycle.pipeline.analysis import PatientAnalysis
from radcycle.pipeline.scans import image_reference

__all__ = ["QC_ALGORITHM", "noise_facts", "quality_facts"]

QC_ALGORITHM = AlgorithmRecord("radcycle.imaging.qc", "1")
_RULES = {
    "Lung-RADS v2022": RuleRecord("Lung-RADS", "v2022", "Table 1 (solid nodule size)"),
    "RECIST 1.1": RuleRecord("RECIST", "1.1", "3.1.1 and 4.3.1"),
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "x"


def quality_facts(analysis: PatientAnalysis) -> Iterator[Fact]:
    """The image-quality verdicts, findings and contrast phase of each study."""
    for scan in analysis.follow.scans:
        when = scan.exam_date.isoformat()
        ref = image_reference(scan)
        prov = FactProvenance(images=() if ref is None else (ref,), algorithm=QC_ALGORITHM)
        report = assess(scan.volume)
        base = f"f-tech-{when}-quality"
        for analysis_name, verdict in report.verdicts.items():
            yield Fact(
                f"{base}-{analysis_name}",
                FactKind.TECHNIQUE,
                str(verdict["verdict"]),
                None,
                None,
                when,
                prov,
                f"image_quality_{analysis_name}",
            )
        for code in dict.fromkeys(f.code for f in report.findings):
            yield Fact(
                f"{base}-finding-{code}",
                FactKind.TECHNIQUE,
                code,
                None,
                None,
                when,
                prov,
                "quality_finding",
            )
        phase = report.facts.get("contrast_phase_from_image")
        if phase:
            yield Fact(
                f"{base}-phase",
                FactKind.TECHNIQUE,
                str(phase),
                None,
                None,
                when,
                prov,
                "contrast_phase_from_image",
            )


def _near(
    fid: str, near: NearThreshold, tid: str | None, uid: str | None, when: str
) -> Iterator[Fact]:
    prov = FactProvenance(rule=_RULES[near.rule])
    yield Fact(fid, FactKind.GUIDELINE, near.label, None, uid, when, prov, "near_threshold", tid)
    yield Fact(
        f"{fid}-band",
        FactKind.GUIDELINE,
        round(near.band, 1),
        near.unit,
        uid,
        when,
        prov,
        "noise_band",
        tid,
    )
    yield Fact(
        f"{fid}-threshold",
        FactKind.GUIDELINE,
        near.threshold,
        near.unit,
        uid,
        when,
        prov,
        "threshold",
        tid,
    )


def noise_facts(analysis: PatientAnalysis) -> Iterator[Fact]:
    """Sizes and sum changes that sit within their own noise of a threshold."""
    for lesion in analysis.lesions:
        tid, uid = lesion.tracking_identifier, lesion.tracking_uid
        by_time: dict[str, dict[str, float]] = {}
        for m in lesion.measurements:
            if m.value is not None and m.time_point:
                by_time.setdefault(str(m.time_point), {})[m.name.value] = float(m.value)
        for when, sizes in by_time.items():
            if "long_axis" not in sizes:
                continue
            lung = lesion.organ == "lung"
            node = lesion.kind == "lymph node"
            for near in near_size_thresholds(
                sizes["long_axis"], sizes.get("short_axis"), lung, node
            ):
                fid = f"f-{_slug(tid)}-{when}-near-{_slug(near.label)}"
                yield from _near(fid, near, tid, uid, when)
    recist = analysis.follow.recist
    base_sum = recist.get("baseline_sum_mm")
    if base_sum is None:
        return
    for tp in recist.get("timepoints") or ():
        when, total = str(tp.get("date") or ""), tp.get("sum_mm")
        change = tp.get("change_from_baseline_pct")
        if not when or total is None or change is None:
            continue
        # a sum taken as one diameter: an upper bound of its lesions' bands in quadrature
        for near in near_change_thresholds(float(change), [float(base_sum)], [float(total)]):
            fid = f"f-recist-{when}-near-{_slug(near.label)}"
            yield from _near(fid, near, None, None, when)
