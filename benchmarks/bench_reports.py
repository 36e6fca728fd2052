"""``radcycle analyze`` on synthetic patients: report vs truth, verifier, time per stage.

For each of ``RADCYCLE_BENCH_PATIENTS`` synthetic patients (default 10) with 3
time points of 512 x 512 x ``RADCYCLE_BENCH_SLICES`` CT (default 300), the whole
analysis runs as ``radcycle analyze`` does (read, detect, follow, facts, report):

* lesions in the report vs truth: a true lesion present at a time point is found
  when a reported lesion's centre lies within 10 mm of it (or its radius);
* diameter error: |reported long axis - true long axis| of the found ones;
* RECIST category agreement per follow-up, against the same criteria (RECIST 1.1,
  or iRECIST where the patient's record shows immunotherapy, as the analysis
  decides) applied to the true measurements with the same engines;
* verifier: catch rate on the adversarial suite and acceptance of the paraphrase
  suite built from each report (with citations, as drafting uses it);
* time per stage of the analysis, against the goal of 60 s for 3 time points.

The baseline column is the goal (60 s; 100 % caught; 95 % accepted).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from radcycle.longitudinal.tracking import ScanLesions, observed, track_lesions
from radcycle.pipeline.analysis import AnalysisInputs, analyze_patient, guideline_context
from radcycle.pipeline.facts import build_facts
from radcycle.pipeline.follow_guidelines import GuidelineContext, assess_scans
from radcycle.reporting.suite import adversarial_cases, paraphrase_cases, score
from radcycle.reporting.writer import write_report
from radcycle.synth import generate_patient
from radcycle.synth.writer import write_patient

PATIENTS = int(os.environ.get("RADCYCLE_BENCH_PATIENTS", "10"))
SLICES = int(os.environ.get("RADCYCLE_BENCH_SLICES", "300"))
GOAL_S = 60.0
_FOUND_MM = 10.0


def _truth_recist(patient: Any, context: GuidelineContext) -> list[str]:
    """RECIST 1.1 (or iRECIST) per follow-up on the true measurements (perfect tracking).

    ``context`` is the analysis' own (from the patient's record), so both sides apply
    the same criteria: iRECIST where the record shows immunotherapy.
    """
    scans = []
    for tp in patient.timepoints:
        obs = tuple(
            observed(
                tuple(r["centre_mm"]),
                r["long_axis_mm"],
                r["short_axis_mm"],
                r["volume_mm3"],
                organ=r["organ"],
                is_lymph_node=r["organ"] == "lymph node",
                key=r["lesion_id"],
            )
            for r in tp.lesions
            if r["status"] != "vanished"
        )
        scans.append(ScanLesions(tp.study_instance_uid, obs, np.asarray(tp.baseline_to_scan)))
    tracks = track_lesions(scans, patient_key="TRUTH")
    dates = [tp.date for tp in patient.timepoints]
    uids = [tp.series_instance_uid for tp in patient.timepoints]
    _, recist = assess_scans(dates, uids, tracks, context)
    return [str(tp["category"]) for tp in recist["timepoints"]]


def _compare(patient: Any, analysis: Any) -> tuple[int, int, list[float]]:
    found = total = 0
    errors: list[float] = []
    for t, tp in enumerate(patient.timepoints):
        reported = [
            p
            for traj in analysis.follow.trajectories
            for p in traj.points
            if p.timepoint == t and p.centre_mm is not None and p.long_axis_mm
        ]
        for r in tp.lesions:
            if r["status"] == "vanished":
                continue
            total += 1
            centre = np.asarray(r["centre_mm"])
            gate = max(_FOUND_MM, r["long_axis_mm"] / 2)
            near = [p for p in reported if np.linalg.norm(np.asarray(p.centre_mm) - centre) <= gate]
            if near:
                found += 1
                best = min(near, key=lambda p: np.linalg.norm(np.asarray(p.centre_mm) - centre))
                errors.append(abs(float(best.long_axis_mm or 0.0) - r["long_axis_mm"]))
    return found, total, errors


def run(workdir: Path) -> Table:
    rows: dict[str, list[float]] = {
        "found": [],
        "total": [],
        "agree": [],
        "followups": [],
        "irecist": [],
    }
    diameter_errors: list[float] = []
    caught = false_total = accepted = true_total = 0
    misses: list[tuple[str, str]] = []
    stages: dict[str, list[float]] = {}
    for seed in range(PATIENTS):
        patient = generate_patient(100 + seed, timepoints=3, slices=SLICES, matrix=512)
        folder = write_patient(patient, workdir / f"p{seed}")
        studies = tuple(sorted(p for p in folder.iterdir() if p.is_dir()))
        t0 = time.perf_counter()
        analysis = analyze_patient(AnalysisInputs(studies, folder / "fhir_bundle.json"))
        t1 = time.perf_counter()
        facts = build_facts(analysis)
        report = write_report(facts, analysis.patient_id, "2025-01-01T00:00:00+00:00")
        analysis.timings["facts+report"] = time.perf_counter() - t1
        analysis.timings["total"] = time.perf_counter() - t0
        for stage, seconds in analysis.timings.items():
            stages.setdefault(stage, []).append(seconds)
        found, total, errors = _compare(patient, analysis)
        rows["found"].append(found)
        rows["total"].append(total)
        diameter_errors.extend(errors)
        context = guideline_context(analysis.record)
        truth = _truth_recist(patient, context)
        rows["irecist"].append(float(context.immunotherapy))
        ours = [str(tp["category"]) for tp in analysis.follow.recist.get("timepoints") or ()]
        rows["agree"].append(sum(a == b for a, b in zip(ours, truth, strict=False)))
        rows["followups"].append(len(truth))
        adv = score(adversarial_cases(report), facts)
        par = score(paraphrase_cases(report), facts)
        caught, false_total = caught + adv.caught, false_total + adv.false_total
        misses.extend((*adv.misses, *par.misses))
        accepted, true_total = accepted + par.accepted, true_total + par.true_total
    table = Table(title=f"radcycle analyze: {PATIENTS} synthetic patients, 3 x 512x512x{SLICES}")
    table.add_column("measure")
    table.add_column("radcycle", justify="right")
    table.add_column("goal (baseline)", justify="right")
    table.add_column("ratio", justify="right")
    total_s = statistics.median(stages["total"])
    table.add_row(
        "analysis, median s", f"{total_s:.1f}", f"{GOAL_S:.0f}", f"{GOAL_S / total_s:.2f}x"
    )
    for stage, values in stages.items():
        if stage != "total":
            table.add_row(f"  stage {stage}, median s", f"{statistics.median(values):.2f}", "", "")
    lesions = sum(rows["found"]) / max(sum(rows["total"]), 1)
    table.add_row("true lesions in the report", f"{lesions:.1%}", "", "")
    if diameter_errors:
        table.add_row(
            "long-axis error, median / p90 mm",
            f"{statistics.median(diameter_errors):.2f} / {np.percentile(diameter_errors, 90):.2f}",
            "",
            "",
        )
    agreement = sum(rows["agree"]) / max(sum(rows["followups"]), 1)
    criteria = f"{int(sum(rows['irecist']))} of {len(rows['irecist'])} patients iRECIST"
    table.add_row(
        f"RECIST category agreement per follow-up ({criteria}, same criteria both sides)",
        f"{agreement:.1%}",
        "",
        "",
    )
    catch = caught / max(false_total, 1)
    table.add_row(
        f"verifier catch rate ({false_total} false)", f"{catch:.1%}", "100%", f"{catch:.2f}x"
    )
    accept = accepted / max(true_total, 1)
    table.add_row(
        f"paraphrase acceptance ({true_total} true)",
        f"{accept:.1%}",
        "95%",
        f"{accept / 0.95:.2f}x",
    )
    for kind, text in misses[:8]:
        table.add_row(f"  missed ({kind})", text[:60], "", "")
    return table
