"""``radcycle radiomics IMAGE MASK``: IBSI 1 radiomics features of a ROI."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from radcycle.cli.errors import friendly_errors, series_problems, warn_all
from radcycle.cli.options import json_option
from radcycle.domain import Volume
from radcycle.errors import InputError
from radcycle.imaging.radiomics import CONFIGS, compute_features, get_config
from radcycle.imaging.radiomics.features import undefined_reasons
from radcycle.imaging.radiomics.robustness import (
    PERTURBATIONS,
    ROBUST_ICC,
    feature_iccs,
    perturbed_features,
)
from radcycle.io import read_image
from radcycle.io.masks import read_mask

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
        None, "--roi", help="ROI name (RTSTRUCT), segment label (SEG) or label number (image)."
    ),
    as_json: bool = json_option(),
    robustness: bool = typer.Option(
        False,
        "--robustness",
        help="Perturb image and ROI (noise, shifts, rotations, ROI +-1 voxel) and report "
        "each feature's ICC(1,1) over the cases (this one and every --case).",
    ),
    cases: list[str] = typer.Option(
        [], "--case", help="Another IMAGE:MASK for --robustness (an ICC needs two cases)."
    ),
) -> None:
    """Compute IBSI 1 features; keys are the IBSI reference tags (morph_volume, ...)."""
    get_config(config)  # an unknown name fails before any file is read
    volume = read_image(image)
    problems = series_problems(volume.metadata)
    roi = read_mask(mask, volume, roi_name)
    warn_all(roi.metadata.get("warnings") or [])
    if robustness:
        _robustness([(volume, roi), *(_case(text, roi_name) for text in cases)], config, as_json)
        return
    start = time.perf_counter()
    features = compute_features(volume, roi, config)
    seconds = time.perf_counter() - start
    if as_json:
        data = {
            "image": str(image),
            "mask": str(mask),
            "config": config,
            "seconds": round(seconds, 3),
            "features": {k: _jsonable(v) for k, v in features.items()},
            "undefined": undefined_reasons(volume, roi, features),
            "series_problems": problems,
        }
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title=f"{len(features)} features, config {config}, {seconds:.2f} s")
    table.add_column("tag")
    table.add_column("value", justify="right")
    reasons = undefined_reasons(volume, roi, features)
    for tag, value in features.items():
        table.add_row(tag, f"{value:.6g}" if tag not in reasons else "undefined")
    console.print(table)
    if reasons:
        console.print(f"{len(reasons)} feature(s) undefined: {next(iter(reasons.values()))}")


def _case(text: str, roi_name: str | None) -> tuple[Volume, Volume]:
    image, sep, mask = text.rpartition(":")
    if not sep or not image or not mask:
        raise InputError("--case must be IMAGE:MASK", value=text)
    volume = read_image(Path(image))
    return volume, read_mask(Path(mask), volume, roi_name)


def _robustness(pairs: list[tuple[Volume, Volume]], config: str, as_json: bool) -> None:
    values = [perturbed_features(v, m, config) for v, m in pairs]
    if len(values) < 2:
        raise InputError(
            "--robustness needs another case (--case IMAGE:MASK): an ICC compares cases"
        )
    iccs = feature_iccs(values)
    robust = sorted(t for t, v in iccs.items() if math.isfinite(v) and v >= ROBUST_ICC)
    if as_json:
        data = {
            "method": "image perturbation (Zwanenburg et al. 2019), ICC(1,1)",
            "perturbations": [p.name for p in PERTURBATIONS],
            "cases": len(values),
            "icc": {t: _jsonable(round(v, 4)) for t, v in iccs.items()},
            "robust": robust,
        }
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title=f"ICC(1,1) over {len(values)} cases x {len(PERTURBATIONS)} perturbations")
    table.add_column("tag")
    table.add_column("ICC", justify="right")
    for tag, value in iccs.items():
        table.add_row(tag, f"{value:.3f}" if math.isfinite(value) else "undefined")
    console.print(table)
    console.print(f"{len(robust)} of {len(iccs)} features robust (ICC >= {ROBUST_ICC})")


def register(app: typer.Typer) -> None:
    app.command("radiomics")(radiomics)
