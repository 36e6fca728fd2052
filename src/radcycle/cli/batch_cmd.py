"""``radcycle batch radiomics|deid|analyze``: cohorts and archives, resumable, local or on Ray."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Bar
from rich.table import Table
from rich.text import Text

from radcycle.batch import BatchReport, BatchSpec, LocalPool, Progress, RayPool, run_batch
from radcycle.batch.analyze import analyze_task
from radcycle.batch.deid import STAGING_DIR, deid_params, deid_task, patient_items
from radcycle.batch.executors import Executor
from radcycle.batch.manifest import MANIFEST_NAME, open_manifest
from radcycle.batch.radiomics import FORMATS, ITEMS_DIR, radiomics_task, read_cases, write_table
from radcycle.cli.errors import friendly_errors, refuse_overlap
from radcycle.cli.options import (
    deprecated_argument,
    force_option,
    json_option,
    out_option,
    pick,
    require,
)
from radcycle.errors import DataFormatError, ExportError, InputError
from radcycle.imaging.radiomics import CONFIGS, get_config
from radcycle.privacy.keys import load_keyfile
from radcycle.privacy.profile import DeidOptions

console = Console()
err = Console(stderr=True)

batch_app = typer.Typer(
    help="Whole cohorts and archives: resumable batch runs on a local pool or a Ray cluster.",
    no_args_is_help=True,
)

_WORKERS = typer.Option(
    None, "--workers", min=1, help="Items in flight (local processes; default 2, on Ray its CPUs)."
)
_RAY = typer.Option(
    None,
    "--ray",
    help="Run on Ray: a cluster address (host:port), 'auto', or 'local' for a private one.",
)
_RUN = typer.Option(None, "--run", help="Run folder (manifest); default OUT.run beside OUT.")
_FORCE = force_option("Here: start over, replacing the run folder and the outputs.")
_JSON = json_option()
_OUT_ARG = deprecated_argument("--out")


def _out(out: Path | None, out_arg: Path | None) -> Path:
    chosen = pick(out, out_arg, new_flag="--out", old_flag="OUT as a positional argument")
    return require(chosen, "--out", "DIR (the output folder)")


class _RateColumn(ProgressColumn):
    """Items per second, as measured by the progress bar."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- items/s" if speed is None else f"{speed:.2f} items/s")


def _executor(workers: int | None, ray: str | None) -> Executor:
    if ray:
        return RayPool(ray, workers)
    return LocalPool(workers or 2)


def _prepare(out: Path, run: Path | None, force: bool, inputs: list[Path]) -> Path:
    """The run folder; with ``--force`` an earlier run (and output) is removed first.

    Raises:
        ExportError: ``out`` exists and belongs to no run of this folder, without --force;
            ``out`` or the run folder overlaps an input.
    """
    run_dir = run or out.with_name(out.name + ".run")
    refuse_overlap(out, inputs)
    refuse_overlap(run_dir, inputs)
    resuming = (run_dir / MANIFEST_NAME).is_file()
    if force:
        if run_dir.exists() and not resuming:
            raise ExportError("not a run folder; will not remove it", path=run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)
    elif out.exists() and not resuming and (out.is_file() or any(out.iterdir())):
        raise ExportError("output exists; use --force to replace it", path=out)
    return run_dir


def _run(spec: BatchSpec, executor: Executor, quiet: bool) -> BatchReport:
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Bar(*columns, console=err, transient=True, disable=quiet) as bar:
        task = bar.add_task(spec.params["command"], total=None)

        def tell(progress: Progress) -> None:
            bar.update(task, completed=progress.finished, total=progress.total)
            last = progress.last
            if last is not None and not last.ok:
                key = spec.items[last.seq].key
                bar.console.print(f"[yellow]failed[/] {key}: {last.error}", highlight=False)

        return run_batch(spec, executor, tell)


def _print(report: BatchReport, extra: Mapping[str, object], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({**extra, **report.to_json()}, indent=2))
        return
    table = Table(title=f"batch {extra['command']}: {report.executor}")
    table.add_column("items")
    table.add_column("count", justify="right")
    table.add_row("done in this run", str(report.done))
    table.add_row("done before (skipped)", str(report.skipped))
    table.add_row("failed", str(report.failed))
    for reason, count in report.failed_by_reason().items():
        table.add_row(f"  failed: {reason}", str(count))
    console.print(table)
    console.print(
        f"{report.seconds:.1f} s, {report.items_per_second:.2f} items/s, at most "
        f"{report.max_in_flight} in flight; peak memory {report.peak_worker_rss_mb:.0f} MiB "
        f"per worker, {report.driver_rss_mb:.0f} MiB driver -> {extra['out']}"
    )
    files = extra.get("files")
    if isinstance(files, dict):
        console.print("files: " + ", ".join(f"{n} {s}" for s, n in files.items()))


def _finish(report: BatchReport, extra: Mapping[str, object], as_json: bool) -> None:
    _print(report, extra, as_json)
    if report.failed:
        raise typer.Exit(code=1)


@friendly_errors
def _radiomics(
    cases: Path = typer.Argument(..., help="Cases CSV: columns Image, Mask (pyradiomics), ID."),
    out: Path = out_option("Feature table: FEATURES.parquet or .csv.", required=True),
    config: str = typer.Option(
        "default", "--config", help=f"Processing configuration: {', '.join(CONFIGS)}."
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="parquet or csv (default: from the --out suffix, else parquet)."
    ),
    roi_name: str | None = typer.Option(
        None, "--roi", help="ROI name in RTSTRUCT masks / segment label in SEG masks."
    ),
    workers: int | None = _WORKERS,
    ray: str | None = _RAY,
    run: Path | None = _RUN,
    force: bool = _FORCE,
    as_json: bool = _JSON,
) -> None:
    """IBSI 1 features of every case of a cohort: one row per case, with status and error.

    Exit status 1 when any case failed (its row says why).
    """
    get_config(config)
    table_format = fmt or ("csv" if out.suffix.lower() == ".csv" else "parquet")
    if table_format not in FORMATS:
        raise DataFormatError(f"--format must be one of {', '.join(FORMATS)}", value=fmt)
    items = read_cases(cases)
    run_dir = _prepare(out, run, force, [cases])
    items_dir = run_dir / ITEMS_DIR
    params = {
        "command": "radiomics",
        "cases": str(cases.resolve()),
        "config": config,
        "roi": roi_name or "",
        "items_dir": str(items_dir.resolve()),
    }
    spec = BatchSpec(radiomics_task, items, params, run_dir, items_dir)
    report = _run(spec, _executor(workers, ray), as_json)
    with open_manifest(run_dir) as manifest:
        tags = write_table(manifest.states(), items_dir, out, table_format)
    extra = {"command": "radiomics", "out": str(out), "run": str(run_dir), "features": tags}
    _finish(report, extra, as_json)


# Annex E options by their command-line name -> the DeidOptions field they set.
_RETAIN = {
    "patient-characteristics": "retain_patient_chars",
    "device": "retain_device",
    "institution": "retain_institution",
    "uids": "retain_uids",
    "safe-private": "retain_safe_private",
}
_CLEAN = {
    "descriptors": "clean_descriptors",
    "structured-content": "clean_structured",
    "pixel-data": "clean_pixel_data",
}


def _deid_options(dates: str, retain: list[str], clean: list[str]) -> DeidOptions:
    unknown = sorted((set(retain) - set(_RETAIN)) | (set(clean) - set(_CLEAN)))
    if dates not in ("remove", "full", "modified") or unknown:
        raise InputError(
            f"choose --dates from remove, full, modified; --retain from {sorted(_RETAIN)}; "
            f"--clean from {sorted(_CLEAN)}",
            value=unknown or dates,
        )
    chosen = {_RETAIN[name] for name in retain} | {_CLEAN[name] for name in clean}
    flags = {field: field in chosen for field in (*_RETAIN.values(), *_CLEAN.values())}
    return DeidOptions(dates=dates, **flags)  # type: ignore[arg-type]


@friendly_errors
def _deid(
    source: Path = typer.Argument(..., help="Archive folder: one folder per patient."),
    out: Path | None = out_option("Output folder."),
    keyfile: Path = typer.Option(..., "--key", help="Key file made by `radcycle deid-keygen`."),
    dates: str = typer.Option("remove", help="Dates: remove, full, or modified (keyed shift)."),
    retain: list[str] = typer.Option(
        [],
        "--retain",
        help="Annex E retain option, repeatable: patient-characteristics, device, "
        "institution, uids, safe-private.",
    ),
    clean: list[str] = typer.Option(
        [],
        "--clean",
        help="Annex E clean option, repeatable: descriptors, structured-content, pixel-data.",
    ),
    workers: int | None = _WORKERS,
    ray: str | None = _RAY,
    run: Path | None = _RUN,
    force: bool = _FORCE,
    as_json: bool = _JSON,
    out_arg: Path | None = _OUT_ARG,
) -> None:
    """De-identify an archive patient by patient, as `radcycle deid` does for each.

    The run folder holds the input paths: keep it with the originals.
    Exit status 1 when any patient folder failed.
    """
    out = _out(out, out_arg)
    options = _deid_options(dates, retain, clean)
    key = load_keyfile(keyfile)
    items = patient_items(source)
    run_dir = _prepare(out, run, force, [source, keyfile])
    params = deid_params(out.resolve(), keyfile.resolve(), key, options)
    spec = BatchSpec(deid_task, items, params, run_dir, out.resolve())
    report = _run(spec, _executor(workers, ray), as_json)
    _remove_empty(out / STAGING_DIR)
    files = _file_counts(run_dir)
    extra = {"command": "deid", "out": str(out), "run": str(run_dir), "files": files}
    _finish(report, extra, as_json)


@friendly_errors
def _analyze(
    source: Path = typer.Argument(
        ..., help="Archive folder: each folder directly under it is one patient."
    ),
    out: Path | None = out_option("Output folder: OUT/item-<n>/ per patient."),
    workers: int | None = _WORKERS,
    ray: str | None = _RAY,
    run: Path | None = _RUN,
    force: bool = _FORCE,
    as_json: bool = _JSON,
    out_arg: Path | None = _OUT_ARG,
) -> None:
    """Analyze an archive patient by patient, as `radcycle analyze` does for each.

    Each folder directly under SOURCE is one patient (item): all its image series
    are its studies, and a fhir_bundle.json in it is its FHIR record. Outputs go to
    OUT/item-<n>/ (numbered, never named after the folder); the run folder's
    manifest maps items to input folders: keep it with the originals.
    Exit status 1 when any patient folder failed (no image series, unreadable).
    """
    out = _out(out, out_arg)
    items = patient_items(source)
    run_dir = _prepare(out, run, force, [source])
    params = {"command": "analyze", "source": str(source.resolve()), "out": str(out.resolve())}
    spec = BatchSpec(analyze_task, items, params, run_dir, out.resolve())
    report = _run(spec, _executor(workers, ray), as_json)
    _remove_empty(out / STAGING_DIR)
    extra = {"command": "analyze", "out": str(out), "run": str(run_dir)}
    _finish(report, extra, as_json)


def _file_counts(run_dir: Path) -> dict[str, int]:
    with open_manifest(run_dir) as manifest:
        totals: dict[str, int] = {}
        for state in manifest.states("done"):
            for status, count in state.summary.items():
                totals[status] = totals.get(status, 0) + int(count)
    return totals


def _remove_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def register(app: typer.Typer) -> None:
    """Add ``radcycle batch ...`` to ``app``."""
    commands: dict[str, Callable[..., None]] = {
        "radiomics": _radiomics,
        "deid": _deid,
        "analyze": _analyze,
    }
    for name, command in commands.items():
        batch_app.command(name)(command)
    app.add_typer(batch_app, name="batch")
