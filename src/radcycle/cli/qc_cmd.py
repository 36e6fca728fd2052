"""``radcycle qc PATH``: is each image series fit for each analysis, and why."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from radcycle.cli.errors import friendly_errors
from radcycle.cli.options import json_option
from radcycle.errors import PathNotFoundError
from radcycle.pipeline.quality import SeriesQuality, assess_path

console = Console()

_COLOUR = {"fit": "green", "fit with caveats": "yellow", "unfit": "red"}


def print_quality(item: SeriesQuality) -> None:
    """The verdicts of one series and the reasons, for a terminal."""
    console.print(f"[bold]{escape(item.source)}[/]")
    if item.report is None:
        console.print(f"  [red]not assessed[/]: {escape(item.error)}")
        return
    r = item.report
    facts = r.facts
    console.print(
        f"  {r.modality}, spacing {facts['spacing_mm']} mm, "
        f"contrast agent {facts['header'].get('contrast_agent') or '-'}, "
        f"lungs {facts.get('lung_ml', '-')} mL, "
        f"noise in fat {facts.get('fat_sd_hu', '-')} HU SD",
        highlight=False,
    )
    covers = facts.get("covers")
    if covers:
        shown = ", ".join(
            f"{organ} {'?' if seen is None else 'yes' if seen else 'no'}"
            for organ, seen in covers.items()
        )
        phase = facts.get("contrast_phase_from_image") or "not judged"
        aorta = facts.get("aorta_hu")
        at = f" (aorta {aorta:g} HU)" if aorta is not None else ""
        console.print(f"  covers: {shown}; phase from the image: {phase}{at}", highlight=False)
    for analysis, v in r.verdicts.items():
        verdict = str(v["verdict"])
        console.print(f"  {analysis}: [{_COLOUR[verdict]}]{verdict}[/]")
        for reason in v["reasons"]:  # type: ignore[attr-defined]
            console.print(f"    {escape(str(reason))}", highlight=False)


@friendly_errors
def qc(
    path: Path = typer.Argument(..., help="An image file, a DICOM series folder or a tree."),
    modality: str | None = typer.Option(
        None, "--modality", help="CT, MR or PT where the file does not say (NIfTI, NRRD)."
    ),
    as_json: bool = json_option(),
) -> None:
    """Image quality per series: coverage, contrast, noise, metal, a verdict per analysis."""
    if not path.exists():
        raise PathNotFoundError("no such file or folder", path=path)
    results = assess_path(path, modality)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2))
        return
    if not results:
        console.print("no image series found")
    for item in results:
        print_quality(item)


def register(app: typer.Typer) -> None:
    app.command("qc")(qc)
