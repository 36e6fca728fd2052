"""``radcycle demo --out DIR``: the main job on a built-in synthetic patient, end to end.

Each step is one of radcycle's own commands, run in order on what the previous
step produced, so the demo shows exactly what a user would type:

1. ``radcycle synth``: a chest CT patient over time (DICOM, truth.json, FHIR);
2. ``radcycle inspect``: what the folder holds, series by series;
3. ``radcycle record``: the clinical record as a timeline;
4. ``radcycle detect``: lung nodules found and measured on the baseline CT;
5. ``radcycle follow``: registration, lesion tracking, RECIST 1.1 (iRECIST when the
   record shows immunotherapy), Lung-RADS and Fleischner (not applicable with a
   known cancer), with trajectory and waterfall charts;
6. ``radcycle analyze``: the whole analysis of the patient (studies, record) to
   findings.json and a draft report whose every sentence cites its facts;
7. the review service: a database in ``OUT/service`` with a ``demo`` radiologist
   (password in ``OUT/service/demo-login.txt``) and the patient analysed as a job,
   so ``radcycle serve --data OUT/service`` opens it in the browser.

The treatment and diagnosis that steer step 5 are read from the record of step
3, never assumed.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.rule import Rule
from sqlalchemy import select

from radcycle.cli.analyze_cmd import analyze
from radcycle.cli.errors import friendly_errors
from radcycle.cli.follow_cmd import follow
from radcycle.cli.inspect_cmd import inspect
from radcycle.cli.lesion_cmd import detect
from radcycle.cli.options import (
    deprecated_alias,
    deprecated_argument,
    force_option,
    json_option,
    out_option,
    pick,
    random_seed_option,
)
from radcycle.cli.record_cmd import record
from radcycle.cli.synth_cmd import _synth as synth
from radcycle.clinical.fhir import parse_bundle
from radcycle.clinical.summary import record_summary
from radcycle.errors import InputError
from radcycle.reporting.report import DRAFT_STATUS
from radcycle.service.gateways import GatewayRegistry
from radcycle.service.jobs import folder_uids, run_queued, submit
from radcycle.service.settings import ServiceSettings
from radcycle.store.db import Store, database_url, upgrade
from radcycle.store.models import Case
from radcycle.store.users import add_user

console = Console()


def _step(number: int, title: str, command: str) -> None:
    console.print(Rule(f"[bold]{number}. {title}[/]"))
    console.print(f"[dim]$ {command}[/]", highlight=False)


@contextlib.contextmanager
def _steps_to_stderr(quiet: bool) -> Iterator[None]:
    """With ``--json``, what the steps print goes to stderr: stdout holds only the JSON."""
    if not quiet:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


@friendly_errors
def demo(
    out: Path | None = out_option("Folder for everything the demo makes (default: demo-output)."),
    random_seed: int = random_seed_option(7, "Seed of the synthetic patient."),
    timepoints: int = typer.Option(3, "--timepoints", help="CT scans over time."),
    slices: int = typer.Option(120, "--slices", help="Slices per scan."),
    force: bool = force_option("Here: what an earlier demo wrote in --out."),
    as_json: bool = json_option(),
    out_arg: Path | None = deprecated_argument("--out"),
    seed: int | None = deprecated_alias("--seed", "--random-seed", metavar="N"),
) -> None:
    """Run the main job on a synthetic patient and print what each step made."""
    folder = pick(out, out_arg, new_flag="--out", old_flag="OUT as a positional argument")
    root = folder or Path("demo-output")
    chosen = pick(random_seed, seed, new_flag="--random-seed", old_flag="--seed", default=7)
    with _steps_to_stderr(as_json):
        summary = _run_demo(root, chosen, timepoints, slices, force)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))


def _run_demo(out: Path, seed: int, timepoints: int, slices: int, force: bool) -> dict[str, Any]:
    patient_dir = out / "patient"
    _step(
        1,
        "a synthetic patient",
        f"radcycle synth --out {patient_dir} --random-seed {seed} --timepoints {timepoints} "
        f"--slices {slices}" + (" --force" if force else ""),
    )
    synth(
        out=patient_dir,
        force=force,
        random_seed=seed,
        timepoints=timepoints,
        slices=slices,
        matrix=512,
        as_json=False,
        out_arg=None,
        seed=None,
    )
    _step(2, "what the folder holds", f"radcycle inspect {patient_dir}")
    inspect(patient_dir, as_json=False, all_files=False, quality=False)
    bundle = patient_dir / "fhir_bundle.json"
    _step(3, "the clinical record", f"radcycle record {bundle}")
    record(bundle, as_json=False)
    summary = record_summary(parse_bundle(bundle.read_bytes(), source=str(bundle)))
    immunotherapy = any(line["immunotherapy"] for line in summary["lines_of_therapy"])
    known_cancer = bool(summary["diagnoses"])
    scans = sorted(p for p in patient_dir.iterdir() if p.is_dir())
    _step(4, "lung nodules on the baseline CT", f"radcycle detect {scans[0]}")
    detect(scans[0], as_json=False, radiomics=True)
    if len(scans) > 1:
        flags = (" --immunotherapy" if immunotherapy else "") + (
            " --known-cancer" if known_cancer else ""
        )
        follow_dir = out / "follow"
        _step(
            5,
            "follow-up over time",
            f"radcycle follow {' '.join(str(p) for p in scans)} --out {follow_dir}{flags}"
            + (" --force" if force else ""),
        )
        follow(
            scans,
            lesion=[],
            as_json=False,
            out=follow_dir,
            force=force,
            immunotherapy=immunotherapy,
            targets="",
            high_risk=False,
            known_cancer=known_cancer,
            equivocal=[],
            airway=[],
            cyst=[],
            registration="auto",
            confirm_new=[],
            reject_new=[],
        )
        console.print(
            f"charts: {follow_dir / 'trajectories.png'}, {follow_dir / 'waterfall.png'}; "
            f"everything as JSON: {follow_dir / 'follow.json'}"
        )
    report_dir = out / "analysis"
    _step(
        6,
        "the draft report",
        f"radcycle analyze {' '.join(str(p) for p in scans)} --fhir {bundle} --out {report_dir}",
    )
    analyze(
        scans,
        out=report_dir,
        fhir=bundle,
        prior_report=[],
        lesion=[],
        llm=None,
        llm_model=None,
        gguf=None,
        exam_date=None,
        confirm_new=[],
        reject_new=[],
        as_json=False,
        # an earlier demo's analysis is replaced, like its synthetic patient; a
        # folder of anything else is refused
        force=(report_dir / "findings.json").is_file(),
    )
    service = _service_step(out, patient_dir, bundle)
    console.print(Rule())
    console.print(
        f"The report is [bold]{report_dir / 'report.txt'}[/] (with report.json and "
        f"findings.json); everything is under [bold]{out}[/]. "
        "Outputs are not for diagnostic use without review."
    )
    console.print(
        f"Review it in the browser: run [bold]{service['command']}[/] and open "
        f"[bold]{service['url']}[/] (user [bold]{service['user']}[/], password in "
        f"{service['password_file']}).",
        highlight=False,
    )
    return {
        "service": service,
        "out": str(out),
        "patient": str(patient_dir),
        "studies": [str(p) for p in scans],
        "follow": str(out / "follow") if len(scans) > 1 else None,
        "analysis": str(report_dir),
        "report": str(report_dir / "report.txt"),
        "files": sorted(p.name for p in report_dir.iterdir()),
        "status": DRAFT_STATUS,
    }


def _service_step(out: Path, patient_dir: Path, bundle: Path) -> dict[str, str]:
    """The demo patient as a case of the review service, one command from the browser."""
    data = out / "service"
    command = f"radcycle serve --data {data}"
    _step(7, "the review service", f"radcycle db upgrade --data {data}; radcycle user add demo ...")
    if data.exists():  # an earlier demo's service: its database and cases are replaced
        if not (data / "radcycle.db").is_file():
            raise InputError("exists and is not an earlier demo's service folder", path=data)
        shutil.rmtree(data)
    data.mkdir(parents=True)
    settings = ServiceSettings(data=data, database_url=database_url(data, {}), run_worker=False)
    store = Store.open(settings.database_url)
    try:
        upgrade(store)
        password = secrets.token_urlsafe(12)
        with store.session() as session:
            user = add_user(session, "demo", "radiologist", password)
            actor = (user.id, user.name)
        login = data / "demo-login.txt"
        login.touch(mode=0o600)
        login.write_text(f"user: demo\npassword: {password}\n")
        for folder in (settings.cases, settings.uploads):
            folder.mkdir(parents=True, exist_ok=True)
        source = {"paths": [str(patient_dir.resolve())], "fhir": str(bundle.resolve())}
        submit(store, "folder", source, folder_uids([patient_dir]), actor)
        console.print("analysing the demo patient as a job of the service ...")
        run_queued(store, settings, GatewayRegistry())
        with store.session() as session:
            case_id = session.scalars(select(Case.id)).first()
    finally:
        store.close()
    if case_id is None:
        raise InputError("the demo patient's analysis did not make a case", path=data)
    url = f"http://127.0.0.1:8000/cases/{case_id}"
    console.print(f"[dim]$ {command}[/]  then open {url}", highlight=False)
    return {
        "command": command,
        "url": url,
        "user": "demo",
        "password_file": str(login),
        "data": str(data),
    }


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
