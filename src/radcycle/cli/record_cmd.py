"""``radcycle record BUNDLE`` (patient timeline) and ``radcycle mine REPORT...`` (report mining)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from radcycle.cli.errors import friendly_errors
from radcycle.cli.options import json_option
from radcycle.clinical.csv_import import parse_csv
from radcycle.clinical.fhir import parse_bundle
from radcycle.clinical.summary import mine_document, record_summary
from radcycle.errors import InputError, PathNotFoundError

console = Console()


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise PathNotFoundError("no such file", path=path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=path) from exc


@friendly_errors
def record(
    bundle: Path = typer.Argument(..., help="FHIR R4 Bundle (.json) or the documented CSV (.csv)."),
    as_json: bool = json_option(),
) -> None:
    """Patient timeline: diagnoses, lines of therapy, labs with trends, studies, errors."""
    data = _read(bundle)
    if bundle.suffix.lower() == ".csv":
        parsed = parse_csv(data, source=str(bundle))
    else:
        parsed = parse_bundle(data, source=str(bundle))
    summary = record_summary(parsed)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    _print_summary(summary)


def _print_summary(s: dict[str, Any]) -> None:
    patient = s["patient"]
    if patient:
        console.print(
            f"[bold]patient[/] {patient['id']} born {patient['birth_date']} sex {patient['sex']}"
        )
    for d in s["diagnoses"]:
        console.print(
            f"[bold]diagnosis[/] {d['date']} {d['name']} {d['stage']} [dim]{d['source']}[/]"
        )
    for line in s["lines_of_therapy"]:
        io = " (immunotherapy)" if line["immunotherapy"] else ""
        console.print(
            f"[bold]line {line['number']}[/] {line['start']} to {line['end']}: "
            f"{' + '.join(line['agents'])}{io}"
        )
    for lab in s["labs"]:
        ratio = lab["ratio_to_baseline"]
        trend = f" x{ratio:.2f} vs baseline" if ratio is not None else ""
        flags = (" [red]doubled[/]" if lab["doubled"] else "") + (
            " [yellow]above reference[/]" if lab["above_reference"] else ""
        )
        console.print(
            f"[bold]lab[/] {lab['name']} {lab['latest']:g} {lab['unit']} ({lab['latest_date']})"
            f"{trend}{flags} [dim]{', '.join(lab['sources'])}[/]"
        )
    for r in s["results"]:
        console.print(
            f"[bold]{r['kind']}[/] {r['date']} {r['name']}: {r['value']} [dim]{r['source']}[/]"
        )
    for p in s["procedures"]:
        console.print(
            f"[bold]procedure[/] {p['date']} {p['name']} {p['category']} [dim]{p['source']}[/]"
        )
    for r in s["reports"]:
        console.print(
            f"[bold]report[/] {r['date']} {r['title']} {r['category']} [dim]{r['source']}[/]"
        )
        for f in r["prior_findings"]:
            size = f" {f['size_mm']:g} mm" if f["size_mm"] else ""
            where = " ".join(x for x in (f["laterality"], f["site"]) if x)
            console.print(f"  {f['label']}: {f['present']}{size} {where}".rstrip(), highlight=False)
    for st in s["studies"]:
        line = st["current_treatment"]
        on = f" on line {line['number']} ({' + '.join(line['agents'])})" if line else ""
        console.print(
            f"[bold]study[/] {st['date']} {st['modality']} {st['study_instance_uid']}{on}"
        )
    for e in s["errors"]:
        console.print(
            f"[red]error[/] {e['resource_type']}/{e['id']}: {e['message']}", highlight=False
        )


@friendly_errors
def mine(
    reports: list[Path] = typer.Argument(..., help="Report files: plain text or Open-i XML."),
    as_json: bool = json_option("JSON on stdout: a document for one file, JSON Lines for more."),
) -> None:
    """Structured prior findings from free-text reports (rule based, no model files)."""
    mined = []
    for path in reports:
        result = {"path": str(path), **mine_document(_read(path), source=str(path)).to_dict()}
        mined.append(result)
    if as_json:
        if len(mined) == 1:
            typer.echo(json.dumps(mined[0], indent=2))
        else:
            for result in mined:
                typer.echo(json.dumps(result))
        return
    for result in mined:
        console.print(f"[bold]{result['path']}[/]")
        for f in result["findings"]:
            size = f" {f['size_mm']:g} mm" if f["size_mm"] else ""
            where = " ".join(x for x in (f["laterality"], f["site"]) if x)
            console.print(f"  {f['label']}: {f['present']}{size} {where}".rstrip(), highlight=False)
        for c in result["comparisons"]:
            console.print(f"  [dim]comparison[/] {c['change']}: {c['text']}", highlight=False)
        for r in result["recommendations"]:
            console.print(f"  [dim]recommendation[/] {r['text']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("record")(record)
    app.command("mine")(mine)
