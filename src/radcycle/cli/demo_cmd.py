"""``radcycle demo OUT``: the main job on a built-in synthetic patient, end to end.

Each step is one of radcycle's own commands, run in order on what the previous
step produced, so the demo shows exactly what a user would type:

1. ``radcycle synth``: a chest CT patient over time (DICOM, truth.json, FHIR);
2. ``radcycle inspect``: what the folder holds, series by series;
3. ``radcycle record``: the clinical record as a timeline.

Later steps (lesion analysis, follow-up, report) join as they are built.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.rule import Rule

from radcycle.cli.errors import friendly_errors
from radcycle.cli.inspect_cmd import inspect
from radcycle.cli.record_cmd import record
from radcycle.cli.synth_cmd import _synth as synth

console = Console()


def _step(number: int, title: str, command: str) -> None:
    console.print(Rule(f"[bold]{number}. {title}[/]"))
    console.print(f"[dim]$ {command}[/]", highlight=False)


@friendly_errors
def demo(
    out: Path = typer.Argument(Path("demo-output"), help="Folder for everything the demo makes."),
    seed: int = typer.Option(7, "--seed", help="Synthetic patient seed."),
    timepoints: int = typer.Option(3, "--timepoints", help="CT scans over time."),
    slices: int = typer.Option(120, "--slices", help="Slices per scan."),
) -> None:
    """Run the main job on a synthetic patient and print what each step made."""
    patient_dir = out / "patient"
    _step(
        1,
        "a synthetic patient",
        f"radcycle synth {patient_dir} --seed {seed} --timepoints {timepoints} --slices {slices}",
    )
    synth(patient_dir, seed=seed, timepoints=timepoints, slices=slices, matrix=512)
    _step(2, "what the folder holds", f"radcycle inspect {patient_dir}")
    inspect(patient_dir, as_json=False, all_files=False)
    bundle = patient_dir / "fhir_bundle.json"
    _step(3, "the clinical record", f"radcycle record {bundle}")
    record(bundle, as_json=False)
    console.print(Rule())
    console.print(
        f"Everything is under [bold]{out}[/]. Outputs are not for diagnostic use without review."
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
