"""``radcycle deid``, ``deid-keygen`` and ``deid-check``: de-identification commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from radcycle.cli.errors import friendly_errors
from radcycle.errors import DataFormatError, PathNotFoundError
from radcycle.privacy.batch import (
    QUARANTINE_DIR,
    BatchSummary,
    FileRecord,
    deidentify_tree,
    iter_files,
)
from radcycle.privacy.check import CheckReport, check_tree
from radcycle.privacy.fhir_deid import deidentify_bundle, output_name
from radcycle.privacy.keys import DeidKey, generate_keyfile, load_keyfile
from radcycle.privacy.profile import DateMode, DeidOptions

console = Console()
err = Console(stderr=True)


def _keygen(
    keyfile: Path = typer.Argument(..., help="Where to write the new key (mode 0600)."),
) -> None:
    """Make a new random de-identification key; never overwrites a file."""
    generate_keyfile(keyfile)
    console.print(f"wrote key {keyfile} (keep it secret: it re-links pseudonyms to patients)")


def _run_tree(
    source: Path, out: Path, key: DeidKey, options: DeidOptions, workers: int
) -> BatchSummary:
    total = sum(1 for _ in iter_files(source))
    columns = (TextColumn("de-identifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("deid", total=total)

        def advance(record: FileRecord) -> None:
            bar.advance(task)
            if record.status in ("skipped", "failed"):
                bar.console.print(
                    f"[yellow]{record.status}[/] {record.source}: {record.reason}", highlight=False
                )

        return deidentify_tree(source, out, key, options, workers=workers, progress=advance)


def _run_fhir(
    source: Path, out: Path, key: DeidKey, options: DeidOptions, system: str | None
) -> None:
    try:
        bundle = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"cannot read FHIR JSON: {exc}", path=source) from exc
    result = deidentify_bundle(bundle, key, options, patient_id_system=system)
    target = out / output_name(bundle, key, system) if out.is_dir() else out
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote de-identified FHIR bundle {target}")


@friendly_errors
def _deid(
    source: Path = typer.Argument(
        ..., help="A DICOM file or folder tree, or a FHIR Bundle (.json)."
    ),
    out: Path = typer.Argument(..., help="Output folder (or output .json for a FHIR Bundle)."),
    keyfile: Path = typer.Option(..., "--key", help="Key file made by `radcycle deid-keygen`."),
    dates: str = typer.Option(
        "remove", help="Dates: remove, full (keep), or modified (keyed per-patient shift)."
    ),
    retain_patient_characteristics: bool = typer.Option(
        False, help="Keep age, sex, size, weight..."
    ),
    retain_device_identity: bool = typer.Option(False, help="Keep serial numbers, station names."),
    retain_institution_identity: bool = typer.Option(False, help="Keep institution name, address."),
    retain_uids: bool = typer.Option(False, help="Keep original UIDs (no remapping)."),
    retain_safe_private: bool = typer.Option(False, help="Keep safe-listed private attributes."),
    clean_descriptors: bool = typer.Option(False, help="Keep descriptions, identifiers masked."),
    clean_structured_content: bool = typer.Option(False, help="Keep SR text, identifiers masked."),
    clean_pixel_data: bool = typer.Option(False, help="Blank ultrasound text outside regions."),
    birth_date: str = typer.Option("year", help="FHIR birthDate: year, shift, or remove."),
    patient_id_system: str | None = typer.Option(None, help="FHIR identifier system of PatientID."),
    workers: int = typer.Option(2, min=1, help="Parallel processes."),
) -> None:
    """De-identify DICOM (PS3.15 Annex E Basic Profile + options) or a FHIR Bundle."""
    if dates not in ("remove", "full", "modified"):
        raise DataFormatError("--dates must be remove, full or modified", value=dates)
    if birth_date not in ("year", "shift", "remove"):
        raise DataFormatError("--birth-date must be year, shift or remove", value=birth_date)
    if not source.exists():
        raise PathNotFoundError("input not found", path=source)
    key = load_keyfile(keyfile)
    date_mode: DateMode = dates  # type: ignore[assignment]
    options = DeidOptions(
        dates=date_mode,
        retain_patient_chars=retain_patient_characteristics,
        retain_device=retain_device_identity,
        retain_institution=retain_institution_identity,
        retain_uids=retain_uids,
        retain_safe_private=retain_safe_private,
        clean_descriptors=clean_descriptors,
        clean_structured=clean_structured_content,
        clean_pixel_data=clean_pixel_data,
        birth_date=birth_date,  # type: ignore[arg-type]
    )
    if source.is_file() and source.suffix.lower() == ".json":
        _run_fhir(source, out, key, options, patient_id_system)
        return
    summary = _run_tree(source, out, key, options, workers)
    counts = ", ".join(
        f"{summary.count(s)} {s}" for s in ("written", "quarantined", "skipped", "failed")
    )
    console.print(f"{counts} -> {out}")
    if summary.count("quarantined"):
        console.print(
            f"[yellow]quarantined[/] images may show burned-in text: see {out / QUARANTINE_DIR}"
        )


def _check(
    out: Path = typer.Argument(..., help="De-identified output folder (or file)."),
    originals: Path | None = typer.Option(
        None, help="The original files, to search for their identifiers."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Check every DICOM and FHIR file of a de-identified output for leaks.

    Exit status 1 when anything leaks, when nothing was checked, when a file could
    not be checked, or when the de-identification run did not finish.
    """
    try:
        report = check_tree(out, originals)
    except PathNotFoundError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from exc
    if as_json:
        console.print_json(json.dumps(report.to_json()))
    else:
        _print_check(report)
    if not report.clean:
        raise typer.Exit(code=1)


def _print_check(report: CheckReport) -> None:
    for leak in report.leaks:
        console.print(
            f"[red]leak[/] {leak.file} {leak.path} {leak.kind}: {leak.detail!r}", highlight=False
        )
    for reason, files in sorted(report.not_checked.items()):
        for name in files:
            console.print(f"[yellow]not checked[/] {name}: {reason}", highlight=False)
    counts = ", ".join(f"{len(files)} {kind}" for kind, files in report.checked.items())
    console.print(f"checked: {counts} file(s)", highlight=False)
    for problem in report.problems():
        console.print(f"[red]{problem}[/]", highlight=False)
    verdict = "[red]LEAKS FOUND[/]" if report.leaks else "[green]no leaks found[/]"
    console.print(
        f"{verdict}: {len(report.leaks)} finding(s) in {report.files_scanned} DICOM file(s)"
    )


def register(app: typer.Typer) -> None:
    """Add the de-identification commands to ``app``."""
    app.command("deid-keygen")(friendly_errors(_keygen))
    app.command("deid")(_deid)
    app.command("deid-check")(_check)
