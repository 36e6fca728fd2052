"""``radcycle inspect PATH``: what a folder holds, and what happened to each file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.tree import Tree

from radcycle.cli.errors import friendly_errors
from radcycle.cli.options import json_option
from radcycle.io.dicom.scan import ScanResult, iter_files, scan_path
from radcycle.privacy.run_marker import unfinished_deid_run

console = Console()


def _scan_with_progress(path: Path, quiet: bool) -> ScanResult:
    if quiet or not path.is_dir():
        return scan_path(path)
    total = sum(1 for _ in iter_files(path))
    with Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=total)
        return scan_path(path, progress=lambda n: bar.advance(task, n))


def _e(value: object) -> str:
    """A header value as literal text: ``[/]`` in a description is not markup."""
    return escape(str(value))


def _series_line(s: dict[str, Any]) -> str:
    if s["kind"] != "image":
        uid, description = _e(s["series_instance_uid"]), _e(s.get("description", ""))
        return f"[cyan]{_e(s['kind'])}[/] {uid} {description}"
    size = "x".join(str(v) for v in s["size"])
    spacing = "x".join(f"{v:g}" for v in s["spacing_mm"])
    text = (
        f"[bold]{_e(s['modality'] or '?')}[/] {_e(s['series_instance_uid'])} "
        f"[dim]{_e(s.get('description', ''))}[/] {size} voxels, {spacing} mm, "
        f"{s['size'][2]} slices from {s['files']} file(s)"
    )
    for p in s["problems"]:
        text += f"\n  [yellow]problem[/] {p['code']}: {_e(p['message'])}"
    return text


def _print_tree(data: dict[str, Any], show_files: bool) -> None:
    root = Tree(f"[bold]{_e(data['root'])}[/]")
    for patient in data["patients"]:
        pnode = root.add(
            f"patient {_e(patient.get('patient_id') or '?')} {_e(patient.get('name', ''))}"
        )
        for study in patient["studies"]:
            snode = pnode.add(
                f"study {_e(study['study_instance_uid'])} {_e(study.get('study_date', ''))} "
                f"{_e(study.get('description', ''))}"
            )
            for series in study["series"]:
                snode.add(_series_line(series))
    for image in data["images"]:
        size = "x".join(str(v) for v in image["size"])
        root.add(f"image file {_e(image['file'])} {size} voxels")
    console.print(root)
    tally = data["tally"]
    console.print(
        f"files: {tally['loaded']} loaded, {tally['skipped']} skipped, {tally['error']} error"
    )
    for f in data["files"]:
        if f["status"] != "loaded" or show_files:
            reason = f" - {f['reason']}" if "reason" in f else ""
            line = f"  {f['status']:8} {f['kind']:10} {f['path']}{reason}"
            console.print(line, highlight=False, markup=False)


@friendly_errors
def inspect(
    path: Path = typer.Argument(..., help="A file or folder tree (DICOM, NIfTI, NRRD)."),
    as_json: bool = json_option(),
    all_files: bool = typer.Option(False, "--files", help="List every file, loaded ones too."),
    quality: bool = typer.Option(
        False, "--qc", help="Also load each series and assess its quality (as radcycle qc)."
    ),
) -> None:
    """List patients -> studies -> series with geometry and problems, and each file's outcome."""
    result = _scan_with_progress(path, quiet=as_json)
    data = result.as_dict()
    unfinished = unfinished_deid_run(path) if path.is_dir() else None
    if unfinished is not None:
        data["unfinished_deid_run"] = unfinished
    reports = []
    if quality:
        from radcycle.pipeline.quality import assess_path  # loads pixels: only when asked

        reports = assess_path(path)
    if as_json:
        if quality:
            data["quality"] = [r.to_dict() for r in reports]
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    _print_tree(data, all_files)
    if unfinished is not None:
        console.print(
            "[bold yellow]warning:[/] this folder holds an unfinished de-identification run "
            f"(started {unfinished.get('started', '?')}, pid {unfinished.get('pid', '?')}): "
            "its series may be partial; run `radcycle deid` again to complete it",
            highlight=False,
        )
    if reports:
        from radcycle.cli.qc_cmd import print_quality

        for item in reports:
            print_quality(item)


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
