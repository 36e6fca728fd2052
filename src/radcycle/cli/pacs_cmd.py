"""``radcycle pacs echo|find|retrieve|store``: a PACS over DICOMweb or DIMSE.

The PACS is named by ``--pacs`` (or ``$RADCYCLE_PACS``):
``http(s)://host:port/dicom-web`` for DICOMweb (QIDO-RS, WADO-RS, STOW-RS) or
``dicom://AET@host:port`` for DIMSE (C-ECHO, C-FIND, C-GET or C-MOVE, C-STORE).
A DICOMweb password is read from ``$RADCYCLE_PACS_PASSWORD``, never from the
command line. ``store`` checks after storing that the PACS lists every instance
(QIDO-RS or C-FIND) and exits 1 when one is missing or refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from radcycle.cli.errors import friendly_errors, warn_all
from radcycle.cli.options import force_option, json_option, out_option
from radcycle.errors import ExportError, InputError, PacsError
from radcycle.pacs.gateway import PacsGateway, StudyQuery, collect_instances, open_gateway

console = Console()

pacs_app = typer.Typer(
    name="pacs",
    help="Query, retrieve from and store to a PACS (DICOMweb or DIMSE).",
    no_args_is_help=True,
)

PACS_HELP = "The PACS: http(s)://host:port/dicom-web or dicom://AET@host:port ($RADCYCLE_PACS)."
_PACS = typer.Option(..., "--pacs", envvar="RADCYCLE_PACS", help=PACS_HELP)
_USER = typer.Option(
    None,
    "--user",
    envvar="RADCYCLE_PACS_USER",
    help="DICOMweb user; the password is read from $RADCYCLE_PACS_PASSWORD.",
)
_CALLING = typer.Option("RADCYCLE", "--calling-aet", help="Our AE title (DIMSE).")
_TIMEOUT = typer.Option(60.0, "--timeout", help="Seconds to wait for the PACS.")
_JSON = json_option()


@contextlib.contextmanager
def _gateway(
    url: str, user: str | None, calling_aet: str, timeout: float, **dimse: Any
) -> Iterator[PacsGateway]:
    options: dict[str, Any] = {"timeout": timeout}
    if url.startswith("dicom://"):
        options.update(calling_aet=calling_aet, **dimse)
        gateway = open_gateway(url, **options)
    else:
        password = os.environ.get("RADCYCLE_PACS_PASSWORD")
        gateway = open_gateway(url, username=user, password=password, **options)
    try:
        yield gateway
    except PacsError as exc:
        if exc.path is None:  # name the PACS, not a file of the command line
            raise PacsError(exc.message, path=gateway.description, value=exc.value) from exc
        raise
    finally:
        gateway.close()


@friendly_errors
def echo(
    pacs: str = _PACS,
    user: str | None = _USER,
    calling_aet: str = _CALLING,
    timeout: float = _TIMEOUT,
    as_json: bool = _JSON,
) -> None:
    """Check that the PACS answers (C-ECHO, or a one-study QIDO-RS query)."""
    with _gateway(pacs, user, calling_aet, timeout) as gateway:
        seconds = gateway.echo()
        description = gateway.description
    if as_json:
        typer.echo(json.dumps({"pacs": description, "ok": True, "seconds": round(seconds, 4)}))
    else:
        typer.echo(f"{description}: answers ({seconds * 1000:.1f} ms)")


@friendly_errors
def find(
    pacs: str = _PACS,
    patient_id: str | None = typer.Option(None, "--patient-id", help="PatientID, exact."),
    study_uid: str | None = typer.Option(None, "--study-uid", help="StudyInstanceUID."),
    accession: str | None = typer.Option(None, "--accession", help="AccessionNumber."),
    study_date: str | None = typer.Option(
        None, "--date", help="StudyDate YYYYMMDD or a range YYYYMMDD-YYYYMMDD."
    ),
    modality: str | None = typer.Option(None, "--modality", help="A modality in the study."),
    limit: int | None = typer.Option(None, "--limit", help="At most this many studies."),
    user: str | None = _USER,
    calling_aet: str = _CALLING,
    timeout: float = _TIMEOUT,
    as_json: bool = _JSON,
) -> None:
    """List the studies matching the keys (QIDO-RS or C-FIND)."""
    query = StudyQuery(patient_id, study_uid, accession, study_date, modality, limit)
    with _gateway(pacs, user, calling_aet, timeout) as gateway:
        matches = gateway.find_studies(query)
    if as_json:
        typer.echo(json.dumps({"studies": [m.to_json() for m in matches]}, indent=2))
        return
    table = Table(title=f"{len(matches)} studies")
    for column in (
        "StudyInstanceUID",
        "PatientID",
        "date",
        "modalities",
        "instances",
        "description",
    ):
        table.add_column(column)
    for m in matches:
        table.add_row(
            escape(m.study_instance_uid),
            escape(m.patient_id),
            escape(m.study_date),
            escape(",".join(m.modalities)),
            "" if m.instances is None else str(m.instances),
            escape(m.description),
        )
    console.print(table)


@friendly_errors
def retrieve(
    study_uid: str = typer.Argument(..., help="The StudyInstanceUID to fetch."),
    out: Path = out_option("Folder to create with the study's files.", required=True),
    pacs: str = _PACS,
    method: str = typer.Option("get", "--method", help="DIMSE only: get (C-GET) or move."),
    move_port: int = typer.Option(
        11112, "--move-port", help="DIMSE C-MOVE: our port, as the PACS knows our AE title."
    ),
    user: str | None = _USER,
    calling_aet: str = _CALLING,
    timeout: float = _TIMEOUT,
    force: bool = force_option("The whole --out folder is replaced."),
    as_json: bool = _JSON,
) -> None:
    """Fetch a study into a new folder: <SOPInstanceUID>.dcm files (WADO-RS, C-GET or C-MOVE)."""
    if out.exists() and not out.is_dir():
        raise ExportError("the output is not a folder", path=out)
    if out.exists() and not force:
        raise ExportError("the output folder exists (use --force to replace it)", path=out)
    if not out.parent.is_dir():
        raise ExportError("the folder to write into does not exist", path=out.parent)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        dimse = {"retrieve_method": method, "move_port": move_port}
        with _gateway(pacs, user, calling_aet, timeout, **dimse) as gateway:
            got = gateway.retrieve(study_uid, temp)
            description = gateway.description
        if out.exists():
            shutil.rmtree(out)
        temp.rename(out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    summary = {**got.to_json(), "folder": str(out), "pacs": description}
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(f"{len(got.files)} instances ({got.bytes / 1e6:.1f} MB) written to {out}")


@friendly_errors
def store(
    inputs: list[Path] = typer.Argument(..., help="DICOM files or folders (SR, SEG, images)."),
    pacs: str = _PACS,
    user: str | None = _USER,
    calling_aet: str = _CALLING,
    timeout: float = _TIMEOUT,
    as_json: bool = _JSON,
) -> None:
    """Send DICOM files (STOW-RS or C-STORE), then check that the PACS lists each one."""
    found = collect_instances(inputs)
    if not found.instances:
        raise InputError("no DICOM file to store", path=inputs[0])
    with _gateway(pacs, user, calling_aet, timeout) as gateway:
        outcome = gateway.store(found.instances)
        check = gateway.verify_stored(f.ref for f in found.instances)
        description = gateway.description
    skipped = [{"file": str(p), "reason": why} for p, why in found.skipped]
    summary = {
        "pacs": description,
        "sent": len(found.instances),
        **outcome.to_json(),
        "skipped": skipped,
        "verified": check.to_json(),
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        warn_all(f"skipped {s['file']}: {s['reason']}" for s in skipped)
        warn_all(f"refused {r.sop_instance_uid}: {why}" for r, why in outcome.failed)
        warn_all(
            f"not listed by the PACS after storing: {r.sop_instance_uid}" for r in check.missing
        )
        typer.echo(
            f"{len(outcome.stored)} of {len(found.instances)} instances stored; "
            f"{len(check.present)} listed by the PACS afterwards"
        )
    if outcome.failed or not check.ok:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add ``radcycle pacs ...`` to ``app``."""
    commands: dict[str, Callable[..., None]] = {
        "echo": echo,
        "find": find,
        "retrieve": retrieve,
        "store": store,
    }
    for name, command in commands.items():
        pacs_app.command(name)(command)
    app.add_typer(pacs_app, name="pacs")
