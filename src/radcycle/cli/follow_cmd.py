"""``radcycle follow BASELINE FOLLOWUP...``: a patient's course over time.

Registers each follow-up to the baseline, tracks the lesions, and prints per-lesion
trajectories, RECIST 1.1 per exam, Lung-RADS v2022 and Fleischner 2017 with the
next exam date; ``--out DIR`` also writes ``follow.json`` and two PNG charts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from radcycle.cli.errors import friendly_errors, series_problems, warn_all
from radcycle.errors import InputError
from radcycle.io import read_image
from radcycle.longitudinal.plots import trajectory_chart, waterfall_chart
from radcycle.pipeline.follow import (
    FollowResult,
    FollowSettings,
    LesionSeed,
    Scan,
    detector_finder,
    follow_patient,
    scan_from_volume,
)
from radcycle.pipeline.follow_guidelines import GuidelineContext

console = Console()


def parse_lesion(text: str) -> LesionSeed:
    """``"x,y,z"`` or ``"x,y,z:organ"`` (LPS mm) -> a baseline lesion seed.

    Example:
        >>> parse_lesion("-80,36.5,-217:lymph node").is_lymph_node
        True
    """
    point, _, organ = text.partition(":")
    try:
        x, y, z = (float(v) for v in point.split(","))
    except ValueError as exc:
        raise InputError("--lesion must be x,y,z[:organ] in LPS mm", value=text) from exc
    organ = organ.strip().lower() or "lung"
    return LesionSeed((x, y, z), organ, organ == "lymph node", f"--lesion {text}")


def check_one_patient(scans: list[Scan], paths: list[Path]) -> None:
    """Refuse studies of different PatientIDs: their lesions are not one patient's.

    Raises:
        InputError: two PatientIDs among the studies.
    """
    ids = {scan.patient_id: path for scan, path in zip(scans, paths, strict=True)}
    known = {pid: path for pid, path in ids.items() if pid}
    if len(known) > 1:
        raise InputError(
            "the studies belong to different patients (PatientID differs); "
            "--allow-different-patients to follow them anyway",
            path=", ".join(str(p) for p in known.values()),
            tag="(0010,0020) PatientID",
            value=sorted(known),
        )


def check_seeds_inside(baseline: Scan, seeds: list[LesionSeed], path: Path) -> None:
    """Refuse a ``--lesion`` point that lies outside the baseline image.

    Raises:
        InputError: the point is outside the image's grid.
    """
    for seed in seeds:
        if not baseline.volume.contains(seed.point_mm):
            lo = baseline.volume.index_to_patient([[0, 0, 0]])[0]
            hi = baseline.volume.index_to_patient([np.asarray(baseline.volume.shape_ijk) - 1])[0]
            raise InputError(
                f"{seed.label} lies outside the baseline image (which spans "
                f"{np.round(lo, 1).tolist()} to {np.round(hi, 1).tolist()} mm LPS)",
                path=path,
                value=list(seed.point_mm),
            )


def _summary(result: FollowResult) -> None:
    lesions = Table(title="Lesion trajectories (diameter mm, change from baseline)")
    lesions.add_column("lesion")
    lesions.add_column("organ")
    for scan in result.scans:
        lesions.add_column(scan.exam_date.isoformat(), justify="right")
    for traj in result.trajectories:
        cells = ["" for _ in result.scans]
        for p in traj.points:
            size = "-" if p.diameter_mm is None else f"{p.diameter_mm:.1f}"
            change = (
                ""
                if p.change_from_baseline_pct is None
                else f" ({p.change_from_baseline_pct:+.0f}%)"
            )
            cells[p.timepoint] = f"{size}{change} {p.status}"
        lesions.add_row(traj.tracking_identifier, traj.organ, *cells)
    console.print(lesions)
    exams = Table(title="Per exam")
    for name in (
        "date",
        "registration",
        "RECIST",
        "Lung-RADS (next exam)",
        "Fleischner (next exam)",
    ):
        exams.add_column(name)
    for scan, reg, a in zip(result.scans, result.registrations, result.assessments, strict=True):
        exams.add_row(
            scan.exam_date.isoformat(),
            "baseline"
            if reg is None
            else f"{reg.kind}, Dice {reg.lung_dice:.2f}" + (" FAILED" if reg.failed else ""),
            a.recist.category if a.recist else "baseline",
            f"{a.lung_rads.category} ({a.lung_rads.next_exam_date})" if a.lung_rads else "-",
            f"{a.fleischner.category} ({a.fleischner.next_exam_date})" if a.fleischner else "-",
        )
    console.print(exams)
    console.print(f"best overall response: {result.recist['best_overall_response']}")
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)


@friendly_errors
def follow(
    studies: list[Path] = typer.Argument(
        ..., help="Baseline then follow-up CT series (DICOM folders); dates from the headers."
    ),
    lesion: list[str] = typer.Option(
        [],
        "--lesion",
        help="A baseline lesion to follow: x,y,z[:organ] in LPS mm (repeatable). "
        "Without any, the lung nodule detector runs on every scan.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    out: Path | None = typer.Option(
        None, "--out", help="Write follow.json, trajectories.png and waterfall.png here."
    ),
    immunotherapy: bool = typer.Option(False, "--immunotherapy", help="Apply iRECIST."),
    targets: str = typer.Option(
        "", "--targets", help="RECIST targets chosen by the radiologist: 'lesion 1,lesion 3'."
    ),
    high_risk: bool = typer.Option(False, "--high-risk", help="Fleischner high-risk patient."),
    known_cancer: bool = typer.Option(
        False, "--known-cancer", help="Known primary cancer (Fleischner does not apply)."
    ),
    different_patients: bool = typer.Option(
        False,
        "--allow-different-patients",
        help="Follow studies whose PatientIDs differ (after a merge of records).",
    ),
) -> None:
    """Follow a patient: registration, lesion tracking, RECIST, Lung-RADS, Fleischner."""
    if len(studies) < 2:
        raise InputError("follow needs a baseline and at least one follow-up study")
    seeds = [parse_lesion(text) for text in lesion]
    scans = [scan_from_volume(read_image(path)) for path in studies]
    for scan in scans:
        series_problems(scan.volume.metadata)
    if not different_patients:
        check_one_patient(scans, studies)
    baseline = min(scans, key=lambda s: s.exam_date)
    baseline_uid = baseline.study_instance_uid
    check_seeds_inside(baseline, seeds, studies[scans.index(baseline)])

    def clicked(scan: Scan) -> list[LesionSeed]:
        # Lesions named on the baseline; on follow-ups they are found again at the
        # position the registration maps them to.
        return seeds if scan.study_instance_uid == baseline_uid else []

    finder = clicked if seeds else detector_finder()

    chosen = tuple(t.strip() for t in targets.split(",") if t.strip()) or None
    context = GuidelineContext(
        immunotherapy=immunotherapy,
        chosen_target_ids=chosen,
        high_risk=high_risk,
        known_cancer=known_cancer,
    )
    settings = FollowSettings(guidelines=context, strict_baseline=bool(seeds))
    result = follow_patient(scans, finder, settings)
    warn_all(
        f"{scan.exam_date}: registration to the baseline FAILED ({reg.reason}); lesions are "
        "matched in the scanners' coordinates and may be wrong"
        for scan, reg in zip(result.scans, result.registrations, strict=True)
        if reg is not None and reg.failed
    )
    document = result.to_dict()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "follow.json").write_text(json.dumps(document, indent=2))
        (out / "trajectories.png").write_bytes(trajectory_chart(result.trajectories))
        changes = [
            tp["change_from_baseline_pct"]
            for tp in result.recist["timepoints"]
            if tp["change_from_baseline_pct"] is not None
        ]
        waterfall = waterfall_chart(result.trajectories, sum_best_pct=min(changes, default=None))
        (out / "waterfall.png").write_bytes(waterfall)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    _summary(result)


def register(app: typer.Typer) -> None:
    app.command("follow")(follow)
