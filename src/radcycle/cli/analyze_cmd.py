"""``radcycle analyze INPUT... --out DIR``: one patient, end to end, to a verified draft.

Reads the studies (any order, folders or PACS exports of mixed series), the FHIR
record and prior reports; finds (or takes the clicked) lesions, follows them,
applies RECIST 1.1 / iRECIST, Lung-RADS and Fleischner; builds the facts; writes
the deterministic report (or a model's, verified sentence by sentence).

Writes ``findings.json`` (schema: ``radcycle/reporting/findings.schema.json``),
``report.json``, ``report.txt``, ``report.html``, ``report.pdf``, ``fhir.json``,
``seg_<date>.dcm`` and ``sr_<date>.dcm`` for each study date, ``trajectories.png``
and ``waterfall.png`` into a temporary folder beside ``--out``, then moves it into
place: nothing half-written is ever left in ``--out``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from radcycle.cli.errors import friendly_errors, refuse_overlap
from radcycle.cli.follow_cmd import parse_lesion
from radcycle.cli.options import force_option, json_option, out_option, point_option
from radcycle.errors import ExportError, InputError
from radcycle.pipeline.analysis import AnalysisInputs, PatientAnalysis, analyze_patient
from radcycle.pipeline.publish import deterministic_outputs, write_outputs
from radcycle.reporting.drafting import draft_report
from radcycle.reporting.llm import HttpBackend, HttpSettings, LlamaCppBackend
from radcycle.reporting.report import DRAFT_STATUS, Report

console = Console(stderr=True)


def _check_out(out: Path, force: bool, inputs: list[Path]) -> None:
    target = out.resolve()
    for source in inputs:
        if source.is_dir() and source.resolve() in target.parents:
            raise ExportError(
                "the output folder lies inside an input folder "
                "(a later run would read its SEG and SR as inputs); put it outside",
                path=out,
                value=str(source),
            )
    refuse_overlap(out, inputs)
    if out.exists() and not force:
        raise ExportError("the output folder exists (use --force to replace it)", path=out)
    if out.exists() and not out.is_dir():
        raise ExportError("the output is not a folder", path=out)
    if not out.parent.is_dir():
        raise ExportError("the folder to write into does not exist", path=out.parent)


def _publish(
    build: Callable[[Path], tuple[list[str], list[str]]], out: Path, force: bool
) -> tuple[list[str], list[str]]:
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        written = build(tmp)
        if out.exists() and force:
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InputError("--exam-date must be YYYY-MM-DD", value=text) from exc


def _backend(llm: str | None, model: str | None, gguf: Path | None) -> Any:
    if gguf is not None:
        return LlamaCppBackend(gguf)
    if llm is not None:
        return HttpBackend(HttpSettings.from_env(llm, model))
    return None


@friendly_errors
def analyze(
    inputs: list[Path] = typer.Argument(
        ..., help="The patient's studies: DICOM folders or files, any order."
    ),
    out: Path = out_option("Output folder (refused if it exists).", required=True),
    fhir: Path | None = typer.Option(None, "--fhir", help="The patient's FHIR R4 bundle."),
    prior_report: list[Path] = typer.Option(
        [], "--prior-report", help="A prior report, plain text or Open-i XML (repeatable)."
    ),
    lesion: list[str] = point_option(
        "--lesion",
        multiple=True,
        organ=True,
        help="A lesion on the earliest study: X,Y,Z[:organ] in LPS mm (repeatable). "
        "Without any, the lung nodule detector runs on every study.",
    ),
    llm: str | None = typer.Option(
        None, "--llm", help="OpenAI-compatible server URL for fluent drafting (verified)."
    ),
    llm_model: str | None = typer.Option(None, "--llm-model", help="Model name for --llm."),
    gguf: Path | None = typer.Option(
        None, "--gguf", help="Draft in process with this GGUF model (the 'llama' extra)."
    ),
    exam_date: str | None = typer.Option(
        None, "--exam-date", help="YYYY-MM-DD of a study whose headers have no StudyDate."
    ),
    confirm_new: list[str] = typer.Option(
        [],
        "--confirm-new",
        help="A new lesion found by the detector that the radiologist confirms: 'lesion 6' "
        "(repeatable); unconfirmed new lesions do not make the response category.",
    ),
    reject_new: list[str] = typer.Option(
        [],
        "--reject-new",
        help="A new lesion found by the detector that the radiologist rejects (repeatable).",
    ),
    as_json: bool = json_option(),
    force: bool = force_option("Here: the whole --out folder."),
) -> None:
    """Analyze one patient and write a verified draft report."""
    _check_out(out, force, [*inputs, *([fhir] if fhir else []), *prior_report])
    seeds = tuple(parse_lesion(text) for text in lesion)
    backend = _backend(llm, llm_model, gguf)
    request = AnalysisInputs(
        tuple(inputs),
        fhir,
        tuple(prior_report),
        seeds,
        exam_date=_date(exam_date),
        confirmed_new=tuple(t.strip() for t in confirm_new),
        rejected_new=tuple(t.strip() for t in reject_new),
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task("analyze", total=None)

        def progress(stage: str) -> None:
            bar.update(task, description=f"analyze: {stage}")

        analysis = analyze_patient(request, progress)
        progress("report")
        generated = datetime.now(UTC).isoformat(timespec="seconds")
        report, findings = deterministic_outputs(analysis, generated)
        if backend is not None:
            progress("drafting")
            report = draft_report(report, backend)
        progress("write")
        names, warnings = _publish(
            lambda folder: write_outputs(analysis, report, findings, folder), out, force
        )
    _summary(out, names, report, analysis, as_json, warnings)


def _summary(
    out: Path,
    names: list[str],
    report: Report,
    analysis: PatientAnalysis,
    as_json: bool,
    export_warnings: list[str],
) -> None:
    summary = {
        "out": str(out),
        "files": names,
        "writer": report.writer,
        "lesions": len(analysis.lesions),
        "studies": len(analysis.follow.scans),
        "rejections": len(report.rejections),
        "warnings": [*report.warnings, *export_warnings],
        "timings_s": analysis.timings,
        "status": DRAFT_STATUS,
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    for warning in (*report.warnings, *export_warnings):
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    typer.echo(report.to_text())
    others = ", ".join(n for n in names if n != "report.txt")
    typer.echo(f"report: {out / 'report.txt'} (also {others})")


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
