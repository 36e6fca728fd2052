"""Following synthetic patients: known repositioning, known lesions, known RECIST."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.domain.findings import LesionMeasurement
from radcycle.domain.identity import validate_uid
from radcycle.guidelines.recist import select_targets
from radcycle.guidelines.recist_response import follow_up_from_tracked
from radcycle.guidelines.recist_series import assess_series
from radcycle.longitudinal.tracking import PointStatus
from radcycle.pipeline.follow import LesionSeed, Scan, detector_finder, follow_patient
from radcycle.synth import generate_patient, write_patient

runner = CliRunner()


def _measurements(rec: dict, rng: np.random.Generator) -> LesionMeasurement:
    # A detector's own measurements: the truth with reader-like noise (+-0.3 mm).
    long = rec["long_axis_mm"] + float(rng.uniform(-0.3, 0.3))
    short = min(long, rec["short_axis_mm"] + float(rng.uniform(-0.3, 0.3)))
    centre = tuple(rec["centre_mm"])
    return LesionMeasurement(
        long_axis_mm=long,
        short_axis_mm=short,
        max_3d_diameter_mm=rec["max_3d_diameter_mm"],
        volume_mm3=rec["volume_mm3"],
        centre_mm=centre,
        axial_slice_mm=centre,
        long_axis_endpoints_mm=(centre, centre),
        nodule_type=rec["type"] if rec["organ"] == "lung" else None,
        solid_component_mm=rec["solid_component_mm"],
    )


def _truth_recist(patient) -> list[str]:
    """RECIST 1.1 from the truth table, lesions matched by their true identity."""
    per_tp = []
    for tp in patient.timepoints:
        per_tp.append(
            [
                LesionMeasurement(
                    lesion_id=rec["lesion_id"],
                    organ=rec["organ"],
                    is_lymph_node=rec["organ"] == "lymph node",
                    long_axis_mm=rec["long_axis_mm"] if rec["status"] != "vanished" else None,
                    short_axis_mm=rec["short_axis_mm"] if rec["status"] != "vanished" else None,
                    status="disappeared" if rec["status"] == "vanished" else None,
                )
                for rec in tp.lesions
            ]
        )
    dates = [tp.date for tp in patient.timepoints]
    baseline = select_targets(per_tp[0], dates[0])
    follow_ups = [
        follow_up_from_tracked(baseline, d, ls) for d, ls in zip(dates[1:], per_tp[1:], strict=True)
    ]
    return [tp.category for tp in assess_series(baseline, follow_ups).timepoints]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 5])
def test_synthetic_patient_lesions_matched_and_recist_equal_to_truth(seed: int) -> None:
    patient = generate_patient(seed, timepoints=3, slices=60, matrix=256)
    by_uid = {tp.study_instance_uid: tp for tp in patient.timepoints}
    rng = np.random.default_rng(seed)

    def detector(scan: Scan) -> list[LesionSeed]:
        tp = by_uid[scan.study_instance_uid]
        seeds = [
            LesionSeed(
                tuple(rec["centre_mm"]),
                rec["organ"],
                rec["organ"] == "lymph node",
                rec["lesion_id"],
                _measurements(rec, rng),
                "synthetic detector",
            )
            for rec in tp.lesions
            if rec["status"] != "vanished"
        ]
        order = rng.permutation(len(seeds))
        return [seeds[i] for i in order]

    scans = [
        Scan(tp.volume, tp.date, tp.study_instance_uid, tp.series_instance_uid, "P", None)
        for tp in reversed(patient.timepoints)
    ]
    result = follow_patient(scans, detector)

    assert all(not r.failed for r in result.registrations if r is not None)
    # Every lesion >= 5 mm is followed by exactly one track, and no track mixes lesions.
    for t, tp in enumerate(patient.timepoints):
        for rec in tp.lesions:
            if rec["status"] == "vanished" or rec["long_axis_mm"] < 5.0:
                continue
            holders = [
                tr
                for tr in result.tracks
                if tr.points[t] is not None
                and tr.points[t].observation is not None
                and tr.points[t].observation.key == rec["lesion_id"]
            ]
            assert len(holders) == 1, (t, rec["lesion_id"])
    for tr in result.tracks:
        # keys "t<i>:lesion <n>" are outlines found by looking again, not detections
        keys = {p.observation.key for p in tr.points if p is not None and p.observation}
        detected = {k for k in keys if not k.startswith("t")}
        assert len(detected) == 1, (tr.tracking_identifier, keys)
        validate_uid(tr.tracking_uid)
    # A lung nodule that vanished is found gone (or only a sub-5-mm speck is left
    # at its place: a vessel's cross-section at 5 mm slices), never another lesion.
    for t, tp in enumerate(patient.timepoints):
        for rec in tp.lesions:
            if rec["status"] == "vanished" and rec["organ"] == "lung":
                (tr,) = [
                    x
                    for x in result.tracks
                    if x.points[0] and x.points[0].observation.key == rec["lesion_id"]
                ]
                point = tr.points[t]
                if point.status is not PointStatus.DISAPPEARED:
                    assert point.observation.key.startswith("t")
                    assert point.observation.long_axis_mm < 5.0
    measured = [tp["category"] for tp in result.recist["timepoints"]]
    assert measured == _truth_recist(patient)
    document = json.loads(json.dumps(result.to_dict()))
    assert len(document["scans"]) == 3
    assert [s["date"] for s in document["scans"]] == sorted(s["date"] for s in document["scans"])


@pytest.mark.slow
def test_cli_follow_writes_json_and_charts(tmp_path: Path) -> None:
    patient = generate_patient(2, timepoints=2, slices=40, matrix=192)
    write_patient(patient, tmp_path / "syn")
    folders = [tmp_path / "syn" / tp.folder for tp in patient.timepoints]
    lung = [r for r in patient.timepoints[0].lesions if r["type"] == "solid"]
    biggest = max(lung, key=lambda r: r["long_axis_mm"])
    point = ",".join(str(v) for v in biggest["centre_mm"])
    out = tmp_path / "out"
    args = ["follow", str(folders[1]), str(folders[0]), f"--lesion={point}", "--json"]
    result = runner.invoke(build_app(), [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [s["date"] for s in data["scans"]] == [tp.date.isoformat() for tp in patient.timepoints]
    reg = data["scans"][1]["registration_to_baseline"]
    assert reg["lung_dice"] > 0.85
    # each study carries its image quality: a synthetic chest with lungs, fit to measure
    for scan in data["scans"]:
        assert scan["quality"]["facts"]["covers"]["lungs"] is True
        assert scan["quality"]["verdicts"]["recist"]["verdict"] in {"fit", "fit with caveats"}
    assert not reg["failed"]
    (lesion,) = data["lesions"]
    assert lesion["tracking_identifier"] == "lesion 1"
    validate_uid(lesion["tracking_uid"])
    after = next(r for r in patient.timepoints[1].lesions if r["lesion_id"] == biggest["lesion_id"])
    # click-to-segment outlines at 2 mm pixels and 5 mm slices run 2-3.5 mm wide
    measured = [p["long_axis_mm"] for p in lesion["points"]]
    assert measured[0] == pytest.approx(biggest["long_axis_mm"], abs=4.0)
    assert measured[1] == pytest.approx(after["long_axis_mm"], abs=4.0)
    assert measured[1] - measured[0] < -4.0  # the shrinkage is seen
    assert data["recist"]["timepoints"][0]["category"] in {"CR", "PR", "SD", "PD"}
    exam = data["timepoints"][0]
    assert exam["lung_rads"]["category"] in {"2", "3", "4A", "4B"}
    assert exam["lung_rads"]["rule_fired"].startswith("lesion 1")
    fleischner = exam["fleischner"]
    assert fleischner["guideline"] == "Fleischner 2017"
    if fleischner["interval_months"]:
        assert fleischner["next_exam_date"] > exam["date"]
    for name in ("trajectories.png", "waterfall.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "follow.json").read_text()) == data


def test_cli_follow_needs_two_studies(tmp_path: Path) -> None:
    result = runner.invoke(build_app(), ["follow", str(tmp_path)])
    assert result.exit_code == 2
    assert "follow-up" in result.output


@pytest.mark.slow
def test_fully_automatic_follow_never_mixes_lesions() -> None:
    """Detector on every scan, nothing given: tracks stay one lesion each."""
    patient = generate_patient(2, timepoints=3, slices=60, matrix=256)
    scans = [
        Scan(tp.volume, tp.date, tp.study_instance_uid, tp.series_instance_uid, "P", None)
        for tp in patient.timepoints
    ]
    result = follow_patient(scans, detector_finder())
    holders: dict[tuple[int, str], set[str]] = {}
    for tr in result.tracks:
        truth_ids = set()
        for t, point in enumerate(tr.points):
            if point is None or point.observation is None:
                continue
            centre = np.asarray(point.observation.centre_mm)
            near = [
                (float(np.linalg.norm(centre - np.asarray(rec["centre_mm"]))), rec["lesion_id"])
                for rec in patient.timepoints[t].lesions
                if rec["status"] != "vanished"
            ]
            close = [n for n in near if n[0] < 6.0]
            if close:
                lesion = min(close)[1]
                truth_ids.add(lesion)
                holders.setdefault((t, lesion), set()).add(tr.tracking_identifier)
        assert len(truth_ids) <= 1, (tr.tracking_identifier, truth_ids)
    assert all(len(h) == 1 for h in holders.values())
    wanted = [
        (t, rec["lesion_id"])
        for t, tp in enumerate(patient.timepoints)
        for rec in tp.lesions
        if rec["organ"] == "lung" and rec["status"] != "vanished" and rec["long_axis_mm"] >= 5.0
    ]
    assert sum(1 for k in wanted if k in holders) >= len(wanted) // 2
    assert [tp["category"] for tp in result.recist["timepoints"]] == _truth_recist(patient)
