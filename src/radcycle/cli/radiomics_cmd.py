"""``radcycle radiomics IMAGE MASK``: IBSI 1 radiomics features of a ROI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from radcycle.cli.errors import friendly_errors
from radcycle.imaging.radiomics import CONFIGS
from radcycle.pipeline.radiomics import case_features

console = Console()


def _jsonable(value: float) -> float | None:
    return value if math.isfinite(value) else None


@friendly_errors
def radiomics(
    image: Path = typer.Argument(..., help="The image: NIfTI/NRRD file or DICOM series folder."),
    mask: Path = typer.Argument(
        ..., help="The ROI: a mask on the image grid (non-zero inside), an RTSTRUCT or a SEG."
    ),
    config: str = typer.Option(
        "default", "--config", help=f"Processing configuration: {', '.join(CONFIGS)}."
    ),
    roi_name: str | None = typer.Option(
        None, "--roi", help="ROI name in an RTSTRUCT / segment label in a SEG."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Compute IBSI 1 features; keys are the IBSI reference tags (morph_volume, ...)."""
    result = case_features(image, mask, config, roi_name)
    features, seconds = result.features, result.seconds
    if as_json:
        data = {
            "image": str(image),
            "mask": str(mask),
            "config": config,
            "seconds": round(seconds, 3),
            "features": {k: _jsonable(v) for k, v in features.items()},
        }
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title=f"{len(features)} features, config {config}, {seconds:.2f} s")
    table.add_column("tag")
    table.add_column("value", justify="right")
    for tag, value in features.items():
        table.add_row(tag, f"{value:.6g}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("radiomics")(radiomics)
