"""``radcycle deid``, ``deid-keygen`` and ``deid-check``: de-identification commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from radcycle.cli.errors import friendly_errors
from radcycle.cli.options import (
    deprecated_argument,
    force_option,
    json_option,
    out_option,
    pick,
    require,
)
from radcycle.errors import DataFormatError, PathNotFoundError
from radcycle.io.output import OutputRules, write_file
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
from radcycle.privacy.manifest import STATUSES
from radcycle.privacy.profile import DateMode, DeidOptions

console = Console()
err = Console(stderr=True)


#: Why ``deid-keygen`` has no ``--force``: a replaced key cannot be had back.
KEYGEN_NO_FORCE = (
    "a replaced key is lost for good, and with it the re-linking of every pseudonym "
    "made with it; a new key goes to a new file"
)


def _keygen(
    out: Path | None = out_option("Where to write the new key (mode 0600; never replaced)."),
    as_json: bool = json_option(),
    keyfile: Path | None = deprecated_argument("--out", metavar="KEYFILE"),
) -> None:
    """Make a new random de-identification key; never overwrites a file.

    There is no --force: a replaced key is lost for good, and with it the
    re-linking of every pseudonym made with it.
    """
    chosen = pick(out, keyfile, new_flag="--out", old_flag="KEYFILE as a positional argument")
    target = require(chosen, "--out", "KEYFILE (where to write the key)")
    generate_keyfile(target)
    if as_json:
        typer.echo(json.dumps({"key": str(target), "mode": "0600"}))
        return
    console.print(f"wrote key {target} (keep it secret: it re-links pseudonyms to patients)")


def printable(text: str) -> str:
    """``text`` safe to print: bytes of a file name that is not UTF-8 shown escaped.

    Example:
        >>> printable("caf\\udce9.dcm")
        'caf\\\\udce9.dcm'
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _run_tree(
    source: Path, out: Path, key: DeidKey, options: DeidOptions, workers: int, force: bool
) -> BatchSummary:
    total = sum(1 for _ in iter_files(source))
    columns = (TextColumn("de-identifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("deid", total=total)

        def advance(record: FileRecord) -> None:
            bar.advance(task)
            if record.status in ("skipped", "failed"):
                bar.console.print(
                    f"[yellow]{record.status}[/] {escape(printable(record.source))}: "
                    f"{escape(record.reason)}",
                    highlight=False,
                )

        return deidentify_tree(
            source, out, key, options, workers=workers, progress=advance, force=force
        )


def _run_fhir(
    source: Path,
    out: Path,
    key: DeidKey,
    options: DeidOptions,
    system: str | None,
    force: bool,
) -> Path:
    try:
        bundle = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"cannot read FHIR JSON: {exc}", path=source) from exc
    result = deidentify_bundle(bundle, key, options, patient_id_system=system)
    target = out / output_name(bundle, key, system) if out.is_dir() else out
    rules = OutputRules.of([source], force=force)
    write_file(target, json.dumps(result, indent=2) + "\n", rules)
    return target


@friendly_errors
def _deid(
    source: Path = typer.Argument(
        ..., help="A DICOM file or folder tree, or a FHIR Bundle (.json)."
    ),
    out: Path | None = out_option("Output folder (or output .json for a FHIR Bundle)."),
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
    force: bool = force_option("Here: outputs of an earlier run that differ from this run's."),
    allow_readable_key: bool = typer.Option(
        False, "--allow-readable-key", help="Accept a key file that group or others may read."
    ),
    as_json: bool = json_option(),
    out_arg: Path | None = deprecated_argument("--out"),
) -> None:
    """De-identify DICOM (PS3.15 Annex E Basic Profile + options) or a FHIR Bundle.

    Exit status 1 when any file failed (a summary by reason is printed), 2 on an error.
    """
    chosen = pick(out, out_arg, new_flag="--out", old_flag="OUT as a positional argument")
    out = require(chosen, "--out", "PATH (the output folder, or .json for a FHIR Bundle)")
    if dates not in ("remove", "full", "modified"):
        raise DataFormatError("--dates must be remove, full or modified", value=dates)
    if birth_date not in ("year", "shift", "remove"):
        raise DataFormatError("--birth-date must be year, shift or remove", value=birth_date)
    if not source.exists():
        raise PathNotFoundError("input not found", path=source)
    key = load_keyfile(keyfile, allow_readable=allow_readable_key)
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
        target = _run_fhir(source, out, key, options, patient_id_system, force)
        if as_json:
            typer.echo(json.dumps({"kind": "fhir", "out": str(target)}))
        else:
            console.print(f"wrote de-identified FHIR bundle {target}")
        return
    summary = _run_tree(source, out, key, options, workers, force)
    if as_json:
        _tree_json(summary, out)
    else:
        _print_tree(summary, out)
    if summary.count("failed"):
        raise typer.Exit(code=1)


def _tree_json(summary: BatchSummary, out: Path) -> None:
    quarantined = summary.count("quarantined")
    data = {
        "kind": "dicom",
        "out": str(out),
        "counts": {s: summary.count(s) for s in STATUSES},
        "failed_by_reason": summary.reasons("failed"),
        "quarantine": str(out / QUARANTINE_DIR) if quarantined else None,
    }
    typer.echo(json.dumps(data, indent=2))


def _print_tree(summary: BatchSummary, out: Path) -> None:
    counts = ", ".join(f"{summary.count(s)} {s}" for s in STATUSES)
    console.print(f"{counts} -> {out}")
    if summary.count("quarantined"):
        console.print(
            f"[yellow]quarantined[/] images may show burned-in text: see {out / QUARANTINE_DIR}"
        )
    if summary.count("failed"):
        for reason, n in summary.reasons("failed").items():
            console.print(f"[red]failed[/] {n} file(s): {escape(reason)}", highlight=False)


def _check(
    out: Path = typer.Argument(..., help="De-identified output folder (or file)."),
    originals: Path | None = typer.Option(
        None, help="The original files, to search for their identifiers."
    ),
    as_json: bool = json_option(),
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
        typer.echo(json.dumps(report.to_json(), indent=2))
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
