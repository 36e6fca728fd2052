"""``radcycle radiomics IMAGE MASK``: IBSI 1 radiomics features of a ROI."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import pydicom
import pydicom.errors
import typer
from rich.console import Console
from rich.table import Table

from radcycle.cli.errors import friendly_errors
from radcycle.domain import Volume
from radcycle.errors import InputError
from radcycle.imaging.radiomics import CONFIGS, compute_features, get_config
from radcycle.io import read_image
from radcycle.io.dicom.rtstruct import read_rtstruct
from radcycle.io.dicom.seg import read_seg

console = Console()


# DICOM objects that hold ROIs rather than an image, and their readers.
_ROI_READERS: dict[str, Callable[[Path, Volume], dict[str, Volume]]] = {
    "RTSTRUCT": lambda path, ref: read_rtstruct(path, ref),
    "SEG": lambda path, ref: read_seg(path, reference=ref),
}


def _dicom_modality(path: Path) -> tuple[Path, str]:
    """The single DICOM file at ``path`` (a file, or a folder holding one) and its Modality."""
    files = [path] if path.is_file() else sorted(f for f in path.iterdir() if f.is_file())
    if len(files) != 1:
        return path, ""
    try:
        ds = pydicom.dcmread(files[0], stop_before_pixels=True, specific_tags=["Modality"])
    except (pydicom.errors.InvalidDicomError, OSError):
        return path, ""
    return files[0], str(ds.get("Modality", ""))


def _read_mask(path: Path, reference: Volume, roi: str | None) -> Volume:
    """A mask image, or one ROI of an RTSTRUCT / SEG rasterised on the image grid."""
    target, modality = _dicom_modality(path) if path.exists() else (path, "")
    reader = _ROI_READERS.get(modality)
    if reader is None:
        return read_image(path)
    rois = reader(target, reference)
    if roi is None and len(rois) == 1:
        return next(iter(rois.values()))
    if roi not in rois:
        raise InputError(
            f"choose an ROI with --roi; {modality} holds {sorted(rois)}", path=target, value=roi
        )
    return rois[roi]


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
    get_config(config)  # an unknown name fails before any file is read
    volume = read_image(image)
    roi = _read_mask(mask, volume, roi_name)
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
