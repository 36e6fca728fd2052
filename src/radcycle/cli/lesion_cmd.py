"""``radcycle segment | detect | measure``: find, outline and measure lesions.

* ``radcycle segment IMAGE --point X,Y,Z --out MASK.nii.gz``: click-to-segment from
  a point in patient LPS millimetres;
* ``radcycle detect IMAGE --json``: full lung analysis of a chest CT (nodules with
  centre in LPS mm, measurements, type, location, confidence and reason);
* ``radcycle measure IMAGE MASK --json``: RECIST axes, 3D diameter, volume and
  densities of a given mask (NIfTI/NRRD mask, RTSTRUCT or SEG).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from radcycle.cli.errors import friendly_errors, series_problems, warn_all
from radcycle.cli.options import (
    deprecated_alias,
    force_option,
    json_option,
    out_option,
    parse_point,
    pick,
    point_option,
    require,
)
from radcycle.domain import Volume
from radcycle.domain.findings import LesionMeasurement
from radcycle.domain.lesion import measurements_dict
from radcycle.errors import InputError
from radcycle.imaging.measurement import measure_lesion
from radcycle.imaging.segmentation import STRATEGIES
from radcycle.io import read_image, write_image
from radcycle.io.masks import read_mask
from radcycle.io.output import OutputRules, atomic_output
from radcycle.pipeline.click_segment import segment_clicks
from radcycle.pipeline.lung import analyse_lungs

console = Console()

# Single-file formats only: a detached header (.nhdr, .mhd) names a data file that an
# atomic rename would leave under its temporary name.
MASK_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")


def _with_modality(volume: Volume, modality: str | None) -> Volume:
    if not modality:
        return volume
    return volume.with_array(volume.array, modality=modality.upper())


def _measure_table(title: str, m: LesionMeasurement) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("measurement")
    table.add_column("value", justify="right")
    rows: list[tuple[str, Any]] = [
        ("long axis (RECIST, mm)", m.long_axis_mm),
        ("short axis (mm)", m.short_axis_mm),
        ("3D max diameter (mm)", m.max_3d_diameter_mm),
        ("volume (mm3)", m.volume_mm3),
        ("Lung-RADS mean diameter (mm)", m.rounded_mean_diameter_mm),
        ("centre (LPS mm)", ", ".join(f"{v:.1f}" for v in m.centre)),
        ("nodule type", m.nodule_type.value if m.nodule_type else "-"),
        *[(k, v) for k, v in m.intensity.items()],
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    return table


def _companions(texts: Sequence[str]) -> dict[str, Path]:
    """``--with MODALITY=IMAGE`` options, by modality (``PET`` spelled ``PT``)."""
    out: dict[str, Path] = {}
    for text in texts:
        name, sep, path = text.partition("=")
        modality = name.strip().upper().replace("PET", "PT")
        if not sep or not path or modality not in ("CT", "MR", "PT"):
            raise InputError(
                "--with must be MODALITY=IMAGE, MODALITY one of CT, MR, PT", value=text
            )
        if modality in out:
            raise InputError(f"--with {modality} given twice", value=text)
        out[modality] = Path(path)
    return out


@friendly_errors
def segment(
    image: Path = typer.Argument(..., help="Image: DICOM series folder, NIfTI or NRRD."),
    point: list[str] = point_option(
        multiple=True,
        help="A click in the lesion: X,Y,Z in patient LPS mm (repeatable: more "
        "clicks in the lesion, learned method).",
    ),
    negative: list[str] = point_option(
        "--negative",
        multiple=True,
        help="A click outside the lesion that the outline must leave out: X,Y,Z in "
        "LPS mm (repeatable; learned method).",
    ),
    out: Path = out_option("Mask to write (.nii.gz, .nrrd, .mha).", required=True),
    method: str = typer.Option(
        "auto",
        "--method",
        help="auto (the method the cross-validation chose for the modality), classical or learned.",
    ),
    strategy: str | None = typer.Option(
        None, "--strategy", help=f"Force a classical method: {', '.join(STRATEGIES)}."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Learned model of the registry (default: the one with the highest "
        "cross-validated Dice on the modality, alone or, with --with, with the other "
        "series; details.model_choice says which).",
    ),
    companion: list[str] = typer.Option(
        [],
        "--with",
        metavar="MODALITY=IMAGE",
        help="Another series of the same patient, co-registered in patient space "
        "(e.g. PT=pet.nii.gz beside a CT): the learned model reads it beside the "
        "clicked image (repeatable: CT, MR, PT).",
    ),
    weights: Path | None = typer.Option(
        None,
        "--weights",
        help="Weights file of the model (its sha256 must match the registry's); "
        "default: the file shipped with radcycle.",
    ),
    probabilities: Path | None = typer.Option(
        None, "--probabilities", help="Also write the learned model's probability map here."
    ),
    modality: str | None = typer.Option(
        None, "--modality", help="CT, MR or PT where the file does not say (NIfTI)."
    ),
    as_json: bool = json_option(),
    force: bool = force_option(),
    seed: list[str] = deprecated_alias("--seed", "--point", metavar="X,Y,Z", multiple=True),
) -> None:
    """Segment the lesion under a point (lung nodule, soft tissue on CT/MR, PET)."""
    texts = list(point)
    if seed:  # every click of the old spelling, repeated as --point is
        texts = pick(texts or None, list(seed), new_flag="--point", old_flag="--seed")
    texts = [require(texts[0] if texts else None, "--point", "X,Y,Z"), *texts[1:]]
    clicks = [parse_point(t).mm for t in texts]
    negatives = [parse_point(t, flag="--negative").mm for t in negative]
    companions = _companions(companion)
    rules = OutputRules.of([image, *companions.values()], force=force)
    for target in (out, probabilities):
        if target is None:
            continue
        rules.check(target)  # refused now rather than after the work
        if not target.name.lower().endswith(MASK_SUFFIXES):  # renamed into place whole
            flag = "--out" if target is out else "--probabilities"
            raise InputError(f"{flag} must end in {', '.join(MASK_SUFFIXES)}", path=target)
    if probabilities is not None and probabilities.resolve() == out.resolve():
        raise InputError("--probabilities must differ from --out", path=probabilities)
    volume = _with_modality(read_image(image), modality)
    problems = series_problems(volume.metadata)
    done = segment_clicks(
        volume,
        clicks,
        negatives,
        method=method,
        strategy=strategy,
        model=model,
        weights=weights,
        companions={m: _with_modality(read_image(p), m) for m, p in companions.items()},
    )
    result = done.result
    if probabilities is not None and done.probabilities is None:
        raise InputError("--probabilities: the outline was drawn by a classical method")
    mask = result.mask.with_array(result.mask.array.astype("uint8"))
    with atomic_output(out, rules) as temp:
        write_image(mask, temp)
    if probabilities is not None and done.probabilities is not None:
        with atomic_output(probabilities, rules) as temp:
            write_image(done.probabilities, temp)
    written = out
    lung = result.method == "lung-nodule"
    m = measure_lesion(volume, result.mask, modality=modality, lung=lung)
    if as_json:
        data = {
            "mask": str(written),
            "probabilities": str(probabilities) if probabilities is not None else None,
            "method": result.method,
            "quality": result.quality,
            "uncertain": result.quality != "ok",
            "details": result.details,
            "measurements": measurements_dict(m),
            "series_problems": problems,
        }
        typer.echo(json.dumps(data, indent=2))
        return
    console.print(f"wrote {written} ({result.method}, quality {result.quality})")
    console.print(_measure_table("lesion", m))


@friendly_errors
def detect(
    image: Path = typer.Argument(..., help="Chest CT: DICOM series folder, NIfTI or NRRD."),
    as_json: bool = json_option(),
    radiomics: bool = typer.Option(
        True, "--radiomics/--no-radiomics", help="IBSI radiomics per nodule."
    ),
) -> None:
    """Find lung nodules (>= 4 mm; solid, part-solid, ground-glass) and measure them."""
    result = analyse_lungs(read_image(image), radiomics=radiomics)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(title=f"{len(result.nodules)} nodule(s)", title_justify="left")
    for column in ("centre LPS mm", "type", "long mm", "short mm", "mean mm", "where", "conf"):
        table.add_column(column)
    for det in result.nodules:
        m, loc = det.measurements, det.location
        table.add_row(
            ", ".join(f"{v:.1f}" for v in det.centre_mm),
            str(det.nodule_type),
            f"{m.long_axis_mm or 0.0:.1f}",
            f"{m.short_axis_mm or 0.0:.1f}",
            f"{m.rounded_mean_diameter_mm:.1f}",
            f"{loc.side} {loc.zone} ({loc.lobe})"
            f"{' juxtapleural' if loc.juxtapleural else ''}"
            f"{' perifissural' if loc.perifissural else ''}",
            f"{det.confidence:.2f}",
        )
    console.print(table)
    if result.quality:
        nodules = result.quality["verdicts"]["lung-nodules"]
        console.print(f"image quality for nodule detection: {nodules['verdict']}")
        for reason in nodules["reasons"]:
            console.print(f"  {escape(str(reason))}", highlight=False)
    for problem in result.series_problems:
        console.print(f"[yellow]series problem[/] {problem['code']}: {escape(problem['message'])}")
    console.print(f"timings (s): {result.timings_s}")


@friendly_errors
def measure(
    image: Path = typer.Argument(..., help="Image: DICOM series folder, NIfTI or NRRD."),
    mask: Path = typer.Argument(..., help="Mask on the image grid, an RTSTRUCT or a SEG."),
    roi_name: str | None = typer.Option(
        None, "--roi", help="ROI name (RTSTRUCT), segment label (SEG) or label number (image)."
    ),
    modality: str | None = typer.Option(None, "--modality", help="CT, MR or PT."),
    lung: bool = typer.Option(False, "--lung", help="Lung nodule: type and solid component."),
    as_json: bool = json_option(),
) -> None:
    """Measure a lesion mask: RECIST axes, 3D diameter, volume, HU/SUV, Lung-RADS size."""
    volume = _with_modality(read_image(image), modality)
    problems = series_problems(volume.metadata)
    roi = read_mask(mask, volume, roi_name)
    warn_all(roi.metadata.get("warnings") or [])
    m = measure_lesion(volume, roi, modality=modality, lung=lung)
    if as_json:
        data = {"image": str(image), "mask": str(mask), **measurements_dict(m)}
        typer.echo(json.dumps({**data, "series_problems": problems}, indent=2))
        return
    console.print(_measure_table(str(mask), m))


def register(app: typer.Typer) -> None:
    app.command("segment")(segment)
    app.command("detect")(detect)
    app.command("measure")(measure)
