"""The one path from an analysis to facts: every statement a report may make.

Built from :class:`~radcycle.pipeline.analysis.PatientAnalysis` (what ``follow``,
``detect``, ``record`` and ``mine`` produce):

* technique: modality and slice thickness of each study;
* lesion: organ, side, lobe and kind of each tracked lesion;
* measurement: each :class:`~radcycle.domain.Measurement` unchanged (images,
  algorithm), plus the tracking status at each time point and the lesion's
  assessment there (``measured``, ``disappeared`` or ``not evaluated``, with the
  reason and the RECIST 1.1 section where it has no value);
* comparison: diameter change from baseline and from nadir (percent);
* response: RECIST 1.1 (or iRECIST) per follow-up, sum of diameters, best response;
* guideline: Lung-RADS v2022 and Fleischner 2017 per exam, next exam date, and
  the Lung-RADS category of each nodule with its tracking UID;
* record: diagnoses, current treatment (FHIR resource cited);
* prior_finding: findings mined from prior reports (path cited);
* image quality per study and measurements within their own noise of a
  threshold (:mod:`radcycle.pipeline.trust_facts`).

Fact ids are stable: the same analysis gives the same ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from radcycle.domain import (
    Fact,
    FactKind,
    FactProvenance,
    ImageReference,
    Lesion,
    RuleRecord,
)
from radcycle.domain.findings import LesionStatus
from radcycle.errors import InputError
from radcycle.guidelines.results import GuidelineResult
from radcycle.longitudinal.measurements import POINT_STATUS
from radcycle.longitudinal.tracking import PointStatus
from radcycle.longitudinal.trajectories import Trajectory, TrajectoryPoint
from radcycle.pipeline.analysis import PatientAnalysis
from radcycle.pipeline.follow_guidelines import ScanAssessment
from radcycle.pipeline.scans import Scan, image_reference
from radcycle.pipeline.trust_facts import noise_facts, quality_facts

__all__ = ["build_facts", "fact_slug"]

_ASSESSMENT_RULES = {
    LesionStatus.DISAPPEARED: RuleRecord("RECIST", "1.1", "4.3.2"),
    LesionStatus.NOT_EVALUATED: RuleRecord("RECIST", "1.1", "4.4.2"),
}
_RULES = {
    "RECIST": RuleRecord("RECIST", "1.1", "4.3-4.4 (Tables 1-3)"),
    "iRECIST": RuleRecord("iRECIST", "2017", "Table 2"),
    "Lung-RADS": RuleRecord("Lung-RADS", "v2022", "Table 1"),
    "Fleischner": RuleRecord("Fleischner", "2017", "Table 1"),
}


def fact_slug(text: str) -> str:
    """Text as a fact-id part: ``"lesion 1"`` -> ``"lesion-1"``.

    Example:
        >>> fact_slug("Lung-RADS v2022")
        'lung-rads-v2022'
    """
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "x"


def _refs(scan: Scan) -> tuple[ImageReference, ...]:
    ref = image_reference(scan)
    return () if ref is None else (ref,)


def _technique(analysis: PatientAnalysis) -> Iterator[Fact]:
    for scan in analysis.follow.scans:
        when = scan.exam_date.isoformat()
        prov = FactProvenance(images=_refs(scan))
        acq = scan.volume.acquisition
        modality = (acq.modality if acq is not None else None) or "CT"
        yield Fact(
            f"f-tech-{when}-modality",
            FactKind.TECHNIQUE,
            modality,
            None,
            None,
            when,
            prov,
            "modality",
        )
        thickness = acq.slice_thickness_mm if acq is not None else None
        if thickness is not None:
            yield Fact(
                f"f-tech-{when}-slice_thickness",
                FactKind.TECHNIQUE,
                round(float(thickness), 2),
                "mm",
                None,
                when,
                prov,
                "slice_thickness",
            )


def _lesion_facts(lesion: Lesion, traj: Trajectory, scans: tuple[Scan, ...]) -> Iterator[Fact]:
    tid, uid = lesion.tracking_identifier, lesion.tracking_uid
    base = f"f-{fact_slug(tid)}"
    prov = FactProvenance(images=tuple(m.image for m in lesion.measurements[:1] if m.image))
    attrs = {
        "organ": lesion.organ,
        "side": lesion.laterality,
        "lobe": lesion.lobe,
        "kind": lesion.kind,
    }
    for name, value in attrs.items():
        if value is not None:
            yield Fact(f"{base}-{name}", FactKind.LESION, value, None, uid, None, prov, name, tid)
    if traj.parent is not None:
        yield Fact(
            f"{base}-split_from",
            FactKind.LESION,
            traj.parent,
            None,
            uid,
            None,
            prov,
            "split_from",
            tid,
        )
    for m in lesion.measurements:
        if m.value is None:
            continue
        mprov = FactProvenance(images=(m.image,) if m.image else (), algorithm=m.algorithm)
        yield Fact(
            f"{base}-{m.time_point}-{m.name.value}",
            FactKind.MEASUREMENT,
            round(m.value, 2),
            m.unit,
            uid,
            m.time_point,
            mprov,
            m.name.value,
            tid,
        )
    for p in traj.points:
        when = p.date.isoformat()
        sprov = FactProvenance(images=_refs(scans[p.timepoint]))
        yield Fact(
            f"{base}-{when}-status",
            FactKind.LESION,
            p.status,
            None,
            uid,
            when,
            sprov,
            "status",
            tid,
        )
        yield from _assessment(lesion, p, sprov)
        for name, change in (
            ("change_from_baseline", p.change_from_baseline_pct),
            ("change_from_nadir", p.change_from_nadir_pct),
        ):
            if change is not None and p.timepoint != traj.points[0].timepoint:
                yield Fact(
                    f"{base}-{when}-{name}",
                    FactKind.COMPARISON,
                    round(change, 1),
                    "%",
                    uid,
                    when,
                    sprov,
                    name,
                    tid,
                )


def _assessment(lesion: Lesion, point: TrajectoryPoint, prov: FactProvenance) -> Iterator[Fact]:
    """Whether the lesion was measured, gone or not evaluated at a time point, and why."""
    tid, uid, when = lesion.tracking_identifier, lesion.tracking_uid, point.date.isoformat()
    base = f"f-{fact_slug(tid)}-{when}"
    status = POINT_STATUS.get(PointStatus(point.status), LesionStatus.NOT_EVALUATED)
    if (
        status is LesionStatus.MEASURED
        and point.long_axis_mm is None
        and point.short_axis_mm is None
    ):
        status = LesionStatus.NOT_EVALUATED
    rule = _ASSESSMENT_RULES.get(status)
    algorithm = next((m.algorithm for m in lesion.at(when)), None)
    aprov = FactProvenance(images=prov.images, algorithm=algorithm, rule=rule)
    yield Fact(
        f"{base}-assessment",
        FactKind.LESION,
        status.value,
        None,
        uid,
        when,
        aprov,
        "assessment",
        tid,
    )
    if status is not LesionStatus.MEASURED:
        reason = point.note or point.status
        yield Fact(
            f"{base}-assessment_reason",
            FactKind.LESION,
            reason,
            None,
            uid,
            when,
            aprov,
            "assessment_reason",
            tid,
        )


def _guideline_fact(
    fid: str, kind: FactKind, result: GuidelineResult, when: str, refs: tuple[ImageReference, ...]
) -> Iterator[Fact]:
    family = result.guideline.split(" ")[0]
    rule = _RULES.get(family)
    prov = FactProvenance(images=refs, rule=rule)
    yield Fact(fid, kind, result.category, None, None, when, prov, f"{fact_slug(family)}_category")
    if result.next_exam_date is not None and result.applicable:
        yield Fact(
            f"{fid}-next_exam",
            FactKind.GUIDELINE,
            result.next_exam_date.isoformat(),
            None,
            None,
            when,
            prov,
            f"{fact_slug(family)}_next_exam",
        )
    if result.interval is not None and result.applicable:
        yield Fact(
            f"{fid}-interval",
            FactKind.GUIDELINE,
            result.interval.text,
            None,
            None,
            when,
            prov,
            f"{fact_slug(family)}_interval",
        )


def _assessments(analysis: PatientAnalysis) -> Iterator[Fact]:
    follow = analysis.follow
    for scan, a in zip(follow.scans, follow.assessments, strict=True):
        when = scan.exam_date.isoformat()
        refs = _refs(scan)
        if a.recist is not None:
            yield from _guideline_fact(f"f-recist-{when}", FactKind.RESPONSE, a.recist, when, refs)
        if a.lung_rads is not None:
            yield from _guideline_fact(
                f"f-lungrads-{when}", FactKind.GUIDELINE, a.lung_rads, when, refs
            )
        yield from _lung_rads_nodules(analysis, a, when)
        if a.fleischner is not None and a.fleischner.applicable:
            yield from _guideline_fact(
                f"f-fleischner-{when}", FactKind.GUIDELINE, a.fleischner, when, refs
            )
    recist = follow.recist
    rule = FactProvenance(rule=_RULES["RECIST"])
    if recist.get("baseline_sum_mm") is not None:
        when = follow.scans[0].exam_date.isoformat()
        yield Fact(
            "f-recist-baseline_sum",
            FactKind.RESPONSE,
            round(float(recist["baseline_sum_mm"]), 1),
            "mm",
            None,
            when,
            rule,
            "sum_of_diameters",
        )
    for tp in recist.get("timepoints") or ():
        when = str(tp.get("date") or "")
        if not when:
            continue
        if tp.get("sum_mm") is not None:
            yield Fact(
                f"f-recist-{when}-sum",
                FactKind.RESPONSE,
                round(float(tp["sum_mm"]), 1),
                "mm",
                None,
                when,
                rule,
                "sum_of_diameters",
            )
        if tp.get("change_from_baseline_pct") is not None:
            yield Fact(
                f"f-recist-{when}-sum_change",
                FactKind.COMPARISON,
                round(float(tp["change_from_baseline_pct"]), 1),
                "%",
                None,
                when,
                rule,
                "sum_change_from_baseline",
            )
    best = recist.get("best_overall_response")
    if best:
        yield Fact(
            "f-recist-best",
            FactKind.RESPONSE,
            str(best),
            None,
            None,
            None,
            rule,
            "best_overall_response",
        )


def _lung_rads_nodules(analysis: PatientAnalysis, a: ScanAssessment, when: str) -> Iterator[Fact]:
    """One Lung-RADS v2022 fact per nodule, with its tracking UID (the SR attaches it)."""
    lesions = {lesion.tracking_identifier: lesion for lesion in analysis.lesions}
    rule = _RULES["Lung-RADS"]
    for n in a.lung_rads_nodules:
        lesion = lesions.get(n.lesion_id)
        if lesion is None:
            continue
        images = tuple(m.image for m in lesion.at(when)[:1] if m.image is not None)
        yield Fact(
            f"f-{fact_slug(n.lesion_id)}-{when}-lung_rads",
            FactKind.GUIDELINE,
            n.category,
            None,
            lesion.tracking_uid,
            when,
            FactProvenance(images=images, rule=rule),
            "lung-rads_category",
            n.lesion_id,
        )


def _record(analysis: PatientAnalysis) -> Iterator[Fact]:
    record = analysis.record
    if record is None:
        return
    for i, dx in enumerate(record.get("diagnoses") or (), start=1):
        prov = FactProvenance(fhir_resource=dx.get("source"))
        yield Fact(
            f"f-rec-dx-{i}",
            FactKind.RECORD,
            dx.get("name") or dx.get("code"),
            None,
            None,
            dx.get("date"),
            prov,
            "diagnosis",
        )
        if dx.get("stage"):
            yield Fact(
                f"f-rec-dx-{i}-stage",
                FactKind.RECORD,
                dx["stage"],
                None,
                None,
                dx.get("date"),
                prov,
                "stage",
            )
    lines = [line for line in record.get("lines_of_therapy") or () if line]
    if lines:
        line = lines[-1]
        sources = line.get("sources") or [None]
        prov = FactProvenance(fhir_resource=sources[0])
        yield Fact(
            "f-rec-treatment",
            FactKind.RECORD,
            " + ".join(line["agents"]),
            None,
            None,
            line.get("start"),
            prov,
            "treatment",
        )


def _priors(analysis: PatientAnalysis) -> Iterator[Fact]:
    for i, prior in enumerate(analysis.priors, start=1):
        prov = FactProvenance(prior_report=prior.path)
        for j, f in enumerate(prior.mined.findings, start=1):
            if f.present is False:
                continue
            where = " ".join(x for x in (f.laterality, f.site) if x)
            value = " ".join(
                x for x in (f.label.lower(), f"{f.size_mm:g} mm" if f.size_mm else "", where) if x
            )
            # a finding the prior report hedged stays hedged: the verifier holds to it
            name = "prior_finding_uncertain" if f.present == "uncertain" else "prior_finding"
            yield Fact(
                f"f-prior-{i}-{j}", FactKind.PRIOR_FINDING, value, None, None, None, prov, name
            )


def build_facts(analysis: PatientAnalysis) -> tuple[Fact, ...]:
    """Every fact of an analysis, in report order (technique, lesions, responses, record).

    Raises:
        InputError: two facts share an id (a defect, never silently merged).
    """
    follow = analysis.follow
    trajectories = {t.tracking_identifier: t for t in follow.trajectories}
    facts: list[Fact] = [*_technique(analysis), *quality_facts(analysis)]
    for lesion in analysis.lesions:
        facts.extend(_lesion_facts(lesion, trajectories[lesion.tracking_identifier], follow.scans))
    facts.extend(_assessments(analysis))
    facts.extend(noise_facts(analysis))
    facts.extend(_record(analysis))
    facts.extend(_priors(analysis))
    return _unique(facts)


def _unique(facts: list[Fact]) -> tuple[Fact, ...]:
    seen: dict[str, Fact] = {}
    for fact in facts:
        if fact.id in seen:
            raise InputError("two facts share an id", value=fact.id)
        seen[fact.id] = fact
    return tuple(seen.values())
