"""``radcycle synth``: write a synthetic chest CT patient (DICOM, truth, FHIR)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from radcycle.cli.errors import friendly_errors
from radcycle.synth import SyntheticPatient, generate_patient, write_patient

console = Console()
err = Console(stderr=True)


def _summary(patient: SyntheticPatient, out: Path) -> None:
    console.print(
        f"wrote synthetic patient {patient.patient.patient_id} (seed {patient.seed}) to {out}: "
        f"truth.json, fhir_bundle.json, treatment {patient.treatment}"
    )
    for tp in patient.timepoints:
        v = tp.volume
        i, j, k = v.shape_ijk
        table = Table(
            title=(
                f"{tp.folder}/  {tp.date}  {i}x{j}x{k}, "
                f"{v.spacing[0]:.3g}x{v.spacing[1]:.3g}x{v.spacing[2]:.3g} mm"
            ),
            title_justify="left",
            box=box.SIMPLE_HEAD,
        )
        for column in ("lesion", "type", "site", "long mm", "short mm", "mm3", "status"):
            table.add_column(column, justify="right" if "mm" in column else "left", no_wrap=True)
        for lesion in tp.lesions:
            where = lesion.get("lobe") or lesion["side"]
            site = " ".join(str(p) for p in (where, lesion["organ"]) if p)
            table.add_row(
                lesion["lesion_id"],
                lesion["type"],
                site,
                f"{lesion['long_axis_mm']:.1f}",
                f"{lesion['short_axis_mm']:.1f}",
                f"{lesion['volume_mm3']:.0f}",
                lesion["status"],
            )
        console.print(table)


@friendly_errors
def _synth(
    out: Path = typer.Argument(
        ...,
        help="Folder to write (created if missing; an earlier synthetic patient there is "
        "replaced with --force, other content refused).",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an earlier synthetic patient."),
    seed: int = typer.Option(0, "--seed", help="Patient seed; the same seed gives the same bytes."),
    timepoints: int = typer.Option(3, "--timepoints", help="CT scans, 3 months apart (>= 1)."),
    slices: int = typer.Option(
        120, "--slices", help="Slices per scan (16-400) covering the chest."
    ),
    matrix: int = typer.Option(512, "--matrix", help="In-plane pixels (512 for real CT size)."),
) -> None:
    """Write a synthetic lung cancer patient: CT series over time, truth.json, FHIR bundle."""
    with err.status("generating the phantom..."):
        patient = generate_patient(seed, timepoints=timepoints, slices=slices, matrix=matrix)
    total = sum(int(tp.volume.array.shape[0]) for tp in patient.timepoints)
    columns = (TextColumn("writing DICOM"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("write", total=total)
        write_patient(patient, out, progress=lambda n: bar.advance(task, n), force=force)
    _summary(patient, out)


def register(app: typer.Typer) -> None:
    """Add ``radcycle synth`` to ``app``."""
    app.command("synth")(_synth)
