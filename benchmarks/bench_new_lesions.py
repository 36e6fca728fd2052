"""False-positive new lesions on follow-up scans, before and after the stricter rule.

Twenty synthetic patients (seeds 0-19, three CTs each, 256x256x96) are followed
with the lung nodule detector on every scan (the detections of each scan are
made once and shared by both runs). A new lesion is a track first seen on a
follow-up; it is true when a lesion of the truth that is new on that scan lies
within 10 mm of it (or its long axis), false otherwise.

Baseline: every detection on a follow-up is proposed (the rule before). Contender:
a detection on a follow-up where no lesion was before must reach
:data:`radcycle.pipeline.follow_new.NEW_LESION_MIN_CONFIDENCE`. Both look back
on the earlier scans for a candidate new lesion, as follow-up always has.
Reported: false-positive new lesions per follow-up scan, the true new lesions
kept, and how many new lesions stay unconfirmed for a radiologist.
"""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path

import numpy as np
from rich.table import Table

from benchmarks.common import Measurement, ratio_table
from radcycle.pipeline.follow import (
    FollowSettings,
    LesionSeed,
    Scan,
    detector_finder,
    follow_patient,
)
from radcycle.pipeline.follow_new import NEW_LESION_MIN_CONFIDENCE
from radcycle.synth import generate_patient

SEEDS = range(int(os.environ.get("RADCYCLE_BENCH_PATIENTS", "20")))
_MATCH_MM = 10.0


def _scans(patient) -> list[Scan]:  # type: ignore[no-untyped-def]
    return [
        Scan(tp.volume, tp.date, tp.study_instance_uid, tp.series_instance_uid, "BENCH")
        for tp in patient.timepoints
    ]


def _score(result, patient) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    """(false new lesions, true new lesions kept, true new lesions, unconfirmed)."""
    false = kept = 0
    truth_new = [
        (t, np.asarray(les["centre_mm"]), float(les["long_axis_mm"]))
        for t, tp in enumerate(patient.timepoints)
        for les in tp.lesions
        if les["status"] == "new"
    ]
    found = set()
    for review in result.new_lesions:
        centre = np.asarray(review.centre_mm)
        hit = next(
            (
                i
                for i, (t, c, size) in enumerate(truth_new)
                if t == review.first_seen and np.linalg.norm(c - centre) <= max(_MATCH_MM, size)
            ),
            None,
        )
        if hit is None:
            false += 1
        else:
            found.add(hit)
    kept = len(found)
    unconfirmed = sum(r.status == "unconfirmed" for r in result.new_lesions)
    return false, kept, len(truth_new), unconfirmed


def _cached(cache: dict[str, list[LesionSeed]], scan: Scan) -> list[LesionSeed]:
    return cache[scan.series_instance_uid]


def evaluate() -> dict[str, dict[str, float]]:
    totals = {
        name: {"false": 0, "kept": 0, "truth": 0, "unconfirmed": 0, "scans": 0, "seconds": 0.0}
        for name in ("before", "after")
    }
    detect = detector_finder()
    for seed in SEEDS:
        patient = generate_patient(seed, timepoints=3, slices=96, matrix=256)
        scans = _scans(patient)
        cache: dict[str, list[LesionSeed]] = {}
        t0 = time.perf_counter()
        for scan in scans:
            cache[scan.series_instance_uid] = list(detect(scan))
        detect_s = time.perf_counter() - t0
        for name, margin in (("before", 0.0), ("after", NEW_LESION_MIN_CONFIDENCE)):
            t0 = time.perf_counter()
            result = follow_patient(
                scans,
                partial(_cached, cache),
                FollowSettings(new_lesion_min_confidence=margin),
            )
            false, kept, truth, unconfirmed = _score(result, patient)
            row = totals[name]
            row["false"] += false
            row["kept"] += kept
            row["truth"] += truth
            row["unconfirmed"] += unconfirmed
            row["scans"] += len(scans) - 1
            row["seconds"] += time.perf_counter() - t0 + detect_s
    return totals


def run(workdir: Path) -> Table:
    del workdir
    totals = evaluate()
    rows = []
    for name, label in (
        ("after", f"new lesions need confidence {NEW_LESION_MIN_CONFIDENCE} where none was"),
        ("before", "every follow-up detection proposed"),
    ):
        r = totals[name]
        rows.append(
            Measurement(
                label,
                r["seconds"],
                None,
                f"FP new lesions per follow-up scan {r['false'] / max(r['scans'], 1):.2f} "
                f"({int(r['false'])} on {int(r['scans'])} scans); true new lesions kept "
                f"{int(r['kept'])}/{int(r['truth'])}; unconfirmed {int(r['unconfirmed'])}",
            )
        )
    return ratio_table(
        f"New lesions on follow-ups, {len(SEEDS)} synthetic patients x 3 CTs (256x256x96)",
        rows,
        baseline="every follow-up detection proposed",
    )
