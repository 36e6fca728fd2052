"""``radcycle follow BASELINE FOLLOWUP...``: a patient's course over time.

Registers each follow-up to the baseline, tracks the lesions, and prints per-lesion
trajectories, RECIST 1.1 per exam, Lung-RADS v2022 and Fleischner 2017 with the
next exam date; ``--out DIR`` also writes ``follow.json`` and two PNG charts.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from radcycle.cli.errors import friendly_errors, series_problems, warn_all
from radcycle.cli.options import force_option, json_option, out_option, parse_point, point_option
from radcycle.errors import InputError
from radcycle.imaging.registration import (
    REGISTRATION_PATHS,
    RegistrationResult,
    RegistrationSettings,
)
from radcycle.io import read_image
from radcycle.io.folder_lock import FolderLock
from radcycle.io.output import OutputFolder, OutputRules
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
from radcycle.pipeline.quality import scan_quality

console = Console()

FOLLOW_FILES = ("follow.json", "trajectories.png", "waterfall.png")


def parse_lesion(text: str) -> LesionSeed:
    """``"X,Y,Z"`` or ``"X,Y,Z:organ"`` (LPS mm) -> a baseline lesion seed (lung by default).

    Example:
        >>> parse_lesion("-80,36.5,-217:lymph node").is_lymph_node
        True
    """
    point = parse_point(text, flag="--lesion", organ=True)
    organ = point.organ or "lung"
    return LesionSeed(point.mm, organ, organ == "lymph node", f"--lesion {text}")


def registration_path(text: str) -> str:
    """``--registration`` checked: ``auto``, ``lungs`` or ``intensity``.

    Example:
        >>> registration_path("Intensity")
        'intensity'
    """
    value = text.strip().lower()
    if value not in REGISTRATION_PATHS:
        raise InputError(
            f"--registration must be one of {', '.join(REGISTRATION_PATHS)}", value=text
        )
    return value


def parse_reader_call(text: str, option: str) -> tuple[str, str]:
    """``"lesion 2=segmental or more proximal"`` -> (TrackingIdentifier, value).

    Example:
        >>> parse_reader_call("lesion 2=subsegmental", "--airway")
        ('lesion 2', 'subsegmental')
    """
    ident, sep, value = text.partition("=")
    if not sep or not ident.strip() or not value.strip():
        raise InputError(f"{option} must be 'TRACKING ID=VALUE'", value=text)
    return ident.strip(), value.strip()


def parse_equivocal(text: str) -> tuple[str, date]:
    """``"lesion 4@2025-04-07"`` -> (TrackingIdentifier, exam date).

    Example:
        >>> parse_equivocal("lesion 4@2025-04-07")
        ('lesion 4', datetime.date(2025, 4, 7))
    """
    ident, sep, day = text.rpartition("@")
    try:
        when = date.fromisoformat(day.strip())
    except ValueError as exc:
        raise InputError("--equivocal must be 'TRACKING ID@YYYY-MM-DD'", value=text) from exc
    if not sep or not ident.strip():
        raise InputError("--equivocal must be 'TRACKING ID@YYYY-MM-DD'", value=text)
    return ident.strip(), when


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


def recist_cell(result: FollowResult, t: int, category: str) -> str:
    """The category without unconfirmed new lesions, and with them where it differs."""
    tp = result.recist["timepoints"][t - 1]
    other = tp.get("category_with_unconfirmed", category)
    if other == category:
        return category
    ids = ", ".join(tp.get("unconfirmed_new_lesion_ids", []))
    return f"{category} ({other} if {ids} confirmed)"


def registration_cell(reg: RegistrationResult) -> str:
    """One table cell: the path used, its quality measures and FAILED where flagged."""
    d = reg.details
    if reg.path == "intensity":
        measures = (
            f"NCC {d.get('ncc', 0.0):.2f}, bone Dice {d.get('bone_dice', 0.0):.2f}, "
            f"overlap {100 * d.get('overlap_fraction', 0.0):.0f}%"
        )
    else:
        measures = f"Dice {reg.lung_dice:.2f}"
    return f"{reg.kind} ({reg.path}), {measures}" + (" FAILED" if reg.failed else "")


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
    for t, (scan, reg, a) in enumerate(
        zip(result.scans, result.registrations, result.assessments, strict=True)
    ):
        exams.add_row(
            scan.exam_date.isoformat(),
            "baseline" if reg is None else registration_cell(reg),
            recist_cell(result, t, a.recist.category) if a.recist else "baseline",
            f"{a.lung_rads.category} ({a.lung_rads.next_exam_date})" if a.lung_rads else "-",
            f"{a.fleischner.category} ({a.fleischner.next_exam_date})" if a.fleischner else "-",
        )
    console.print(exams)
    console.print(f"best overall response: {result.recist['best_overall_response']}")
    for review in result.new_lesions:
        confidence = "" if review.confidence is None else f", confidence {review.confidence:.2f}"
        console.print(
            f"new lesion {review.tracking_identifier} ({review.exam_date}): "
            f"{review.status.upper()}{confidence}; {review.evidence}",
            highlight=False,
        )
    if any(r.status == "unconfirmed" for r in result.new_lesions):
        console.print(
            "confirm or reject with --confirm-new 'lesion N' / --reject-new 'lesion N'",
            highlight=False,
        )
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)


def _write_outputs(folder: OutputFolder, result: FollowResult, document: dict[str, object]) -> None:
    changes = [
        tp["change_from_baseline_pct"]
        for tp in result.recist["timepoints"]
        if tp["change_from_baseline_pct"] is not None
    ]
    waterfall = waterfall_chart(result.trajectories, sum_best_pct=min(changes, default=None))
    with FolderLock(folder.root, "follow"):
        folder.write("follow.json", json.dumps(document, indent=2))
        folder.write("trajectories.png", trajectory_chart(result.trajectories))
        folder.write("waterfall.png", waterfall)


@friendly_errors
def follow(
    studies: list[Path] = typer.Argument(
        ..., help="Baseline then follow-up CT series (DICOM folders); dates from the headers."
    ),
    lesion: list[str] = point_option(
        "--lesion",
        multiple=True,
        organ=True,
        help="A baseline lesion to follow: X,Y,Z[:organ] in LPS mm (repeatable). "
        "Without any, the lung nodule detector runs on every scan.",
    ),
    as_json: bool = json_option(),
    out: Path | None = out_option("Write follow.json, trajectories.png and waterfall.png here."),
    force: bool = force_option("Here: follow.json and the charts of an earlier run in --out."),
    immunotherapy: bool = typer.Option(False, "--immunotherapy", help="Apply iRECIST."),
    targets: str = typer.Option(
        "", "--targets", help="RECIST targets chosen by the radiologist: 'lesion 1,lesion 3'."
    ),
    high_risk: bool = typer.Option(False, "--high-risk", help="Fleischner high-risk patient."),
    known_cancer: bool = typer.Option(
        False, "--known-cancer", help="Known primary cancer (Fleischner does not apply)."
    ),
    equivocal: list[str] = typer.Option(
        [],
        "--equivocal",
        help="A new lesion equivocal on one exam: 'lesion 4@2025-04-07' (RECIST 1.1 4.3.5).",
    ),
    airway: list[str] = typer.Option(
        [],
        "--airway",
        help="Lung-RADS airway nodule: 'lesion 2=subsegmental' or "
        "'lesion 2=segmental or more proximal'.",
    ),
    cyst: list[str] = typer.Option(
        [], "--cyst", help="Lung-RADS atypical cyst: 'lesion 3=thick-walled cyst'."
    ),
    registration: str = typer.Option(
        "auto",
        "--registration",
        help="auto: lung-driven where both scans show the lungs, intensity-based otherwise "
        "(or where the lung path fails); lungs or intensity to force one path.",
    ),
    confirm_new: list[str] = typer.Option(
        [],
        "--confirm-new",
        help="A new lesion found by the detector that the radiologist confirms: 'lesion 6' "
        "(repeatable); unconfirmed new lesions do not make the response category.",
    ),
    reject_new: list[str] = typer.Option(
        [],
        "--reject-new",
        help="A new lesion found by the detector that the radiologist rejects: 'lesion 6' "
        "(repeatable); it is left out of the response.",
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
    folder = None
    if out is not None:  # refused now rather than after the work
        folder = OutputFolder(out, OutputRules.of(studies, force=force))
        folder.claim(*FOLLOW_FILES)
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
        equivocal_new_lesions=tuple(parse_equivocal(t) for t in equivocal),
        airway_nodules=dict(parse_reader_call(t, "--airway") for t in airway),
        atypical_cysts=dict(parse_reader_call(t, "--cyst") for t in cyst),
    )
    settings = FollowSettings(
        registration=RegistrationSettings(path=registration_path(registration)),
        guidelines=context,
        strict_baseline=bool(seeds),
        confirmed_new=tuple(t.strip() for t in confirm_new),
        rejected_new=tuple(t.strip() for t in reject_new),
    )
    result = follow_patient(scans, finder, settings)
    warn_all(
        f"{scan.exam_date}: registration to the baseline FAILED ({reg.reason}); lesions are "
        "matched in the scanners' coordinates and may be wrong"
        for scan, reg in zip(result.scans, result.registrations, strict=True)
        if reg is not None and reg.failed
    )
    document = result.to_dict()
    quality = scan_quality([scan.volume for scan in result.scans])
    for entry, report in zip(document["scans"], quality, strict=True):
        entry["quality"] = report
    if folder is not None:
        _write_outputs(folder, result, document)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    _summary(result)
    for entry in document["scans"]:
        verdicts = entry["quality"]["verdicts"]
        shown = ", ".join(f"{name} {v['verdict']}" for name, v in verdicts.items())
        console.print(f"image quality {entry['date']}: {shown}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("follow")(follow)
