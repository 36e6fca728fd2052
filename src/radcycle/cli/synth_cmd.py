"""``radcycle synth --out DIR``: write a synthetic chest CT patient (DICOM, truth, FHIR)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from radcycle.cli.errors import friendly_errors
from radcycle.cli.options import (
    deprecated_alias,
    deprecated_argument,
    force_option,
    json_option,
    out_option,
    pick,
    random_seed_option,
    require,
)
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


def summary_json(patient: SyntheticPatient, out: Path) -> dict[str, Any]:
    """What ``synth --json`` prints: the patient, its scans and their lesions."""
    return {
        "out": str(out),
        "patient_id": patient.patient.patient_id,
        "random_seed": patient.seed,
        "treatment": patient.treatment,
        "files": ["truth.json", "fhir_bundle.json"],
        "timepoints": [
            {
                "folder": tp.folder,
                "date": tp.date.isoformat(),
                "shape_ijk": list(tp.volume.shape_ijk),
                "spacing_mm": [float(v) for v in tp.volume.spacing],
                "lesions": list(tp.lesions),
            }
            for tp in patient.timepoints
        ],
    }


@friendly_errors
def _synth(
    out: Path | None = out_option(
        "Folder to write (created if missing; an earlier synthetic patient there is "
        "replaced with --force, other content refused)."
    ),
    force: bool = force_option("Here: an earlier synthetic patient in --out."),
    random_seed: int = random_seed_option(0, "Patient seed; the same seed gives the same bytes."),
    timepoints: int = typer.Option(3, "--timepoints", help="CT scans, 3 months apart (>= 1)."),
    slices: int = typer.Option(
        120, "--slices", help="Slices per scan (16-400) covering the chest."
    ),
    matrix: int = typer.Option(512, "--matrix", help="In-plane pixels (512 for real CT size)."),
    as_json: bool = json_option(),
    out_arg: Path | None = deprecated_argument("--out"),
    seed: int | None = deprecated_alias("--seed", "--random-seed", metavar="N"),
) -> None:
    """Write a synthetic lung cancer patient: CT series over time, truth.json, FHIR bundle."""
    folder = pick(out, out_arg, new_flag="--out", old_flag="OUT as a positional argument")
    out = require(folder, "--out", "DIR (the folder to write)")
    seed = pick(random_seed, seed, new_flag="--random-seed", old_flag="--seed", default=0)
    with err.status("generating the phantom..."):
        patient = generate_patient(seed, timepoints=timepoints, slices=slices, matrix=matrix)
    total = sum(int(tp.volume.array.shape[0]) for tp in patient.timepoints)
    columns = (TextColumn("writing DICOM"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("write", total=total)
        write_patient(patient, out, progress=lambda n: bar.advance(task, n), force=force)
    if as_json:
        typer.echo(json.dumps(summary_json(patient, out), indent=2, default=str))
        return
    _summary(patient, out)


def register(app: typer.Typer) -> None:
    """Add ``radcycle synth`` to ``app``."""
    app.command("synth")(_synth)
