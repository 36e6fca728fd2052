"""``radcycle serve``, ``radcycle user add``, ``radcycle db upgrade``, ``radcycle audit verify``.

The review service and its administration. Every command takes ``--data DIR``
(the service's data folder; ``RADCYCLE_DATA`` or ``./radcycle-data`` by default)
and uses ``RADCYCLE_DATABASE_URL`` when set (else ``DIR/radcycle.db``).
A password is read from ``RADCYCLE_PASSWORD`` or standard input, never from the
command line (which other users can see). The PACS credentials of the service are
``RADCYCLE_PACS_USERNAME`` and ``RADCYCLE_PACS_PASSWORD``.
"""

from __future__ import annotations

import gc
import getpass
import json
import os
import sys
from pathlib import Path

import typer
from sqlalchemy.exc import SQLAlchemyError

from radcycle.cli.errors import friendly_errors
from radcycle.cli.options import json_option
from radcycle.errors import InputError
from radcycle.store import audit
from radcycle.store.audit import verify_chain
from radcycle.store.db import Store, database_url, revision, safe_url, upgrade
from radcycle.store.users import add_user

DATA_HELP = "The service's data folder (cases, uploads, the SQLite database by default)."
user_app = typer.Typer(help="Users of the review service.", no_args_is_help=True)
db_app = typer.Typer(help="The review service's database.", no_args_is_help=True)
audit_app = typer.Typer(help="The review service's audit trail.", no_args_is_help=True)


def _data(data: Path | None) -> Path:
    chosen = data or Path(os.environ.get("RADCYCLE_DATA") or "radcycle-data")
    if chosen.exists() and not chosen.is_dir():
        raise InputError("the data folder is a file", path=chosen)
    return chosen


def _open(data: Path, migrate: bool = True) -> Store:
    """The store of ``data`` (its schema brought up to date unless ``migrate`` is off)."""
    data.mkdir(parents=True, exist_ok=True)
    url = database_url(data, os.environ)
    if not migrate and url.startswith("sqlite:///") and not Path(url[10:]).is_file():
        raise InputError("no radcycle database there (run `radcycle db upgrade`)", path=data)
    store = Store.open(url)
    try:
        if migrate:
            upgrade(store)
        elif revision(store) is None:
            raise InputError("no radcycle database there (run `radcycle db upgrade`)", path=data)
    except SQLAlchemyError as exc:
        store.close()
        cause = getattr(exc, "orig", None) or exc
        reason = (str(cause).splitlines() or [type(cause).__name__])[0]
        raise InputError(f"cannot open the database: {reason}", value=safe_url(url)) from exc
    return store


@friendly_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    root: list[Path] = typer.Option(
        [], "--root", help="A server folder jobs may read (repeatable; none: any)."
    ),
    secure_cookies: bool = typer.Option(
        False, "--secure-cookies", help="Send the session cookie over HTTPS only."
    ),
    as_json: bool = json_option(),
) -> None:
    """Run the review service (API, web UI, analysis worker)."""
    import uvicorn

    from radcycle.service.app import create_app
    from radcycle.service.settings import ServiceSettings

    folder = _data(data)
    _open(folder).close()
    settings = ServiceSettings(
        data=folder,
        database_url=database_url(folder, os.environ),
        secure_cookies=secure_cookies,
        roots=tuple(r.resolve() for r in root),
    )
    from radcycle.cli.pacs_gateways import pacs_registry

    pacs = pacs_registry(
        os.environ.get("RADCYCLE_PACS_USERNAME"), os.environ.get("RADCYCLE_PACS_PASSWORD")
    )
    app = create_app(settings, pacs)
    url = f"http://{host}:{port}/"
    if as_json:
        typer.echo(json.dumps({"url": url, "data": str(folder)}))
    else:
        typer.echo(f"radcycle review service on {url} (data: {folder})", err=True)
    # Everything loaded so far (the libraries, the app) lives as long as the process: moved
    # out of the collector's sight, a full collection no longer walks it, which otherwise
    # paused every request in flight for about 0.2 s now and then under load.
    gc.collect()
    gc.freeze()
    # No websockets: the service has none, and loading a websockets library is not needed.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", ws="none")


def _password() -> str:
    given = os.environ.get("RADCYCLE_PASSWORD")
    if given:
        return given
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise InputError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@friendly_errors
def user_add(
    name: str = typer.Argument(..., help="User name (letters, digits, '.', '_', '-')."),
    role: str = typer.Option(..., "--role", help="radiologist, technologist, viewer or admin."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = json_option(),
) -> None:
    """Add a user; the password comes from RADCYCLE_PASSWORD or standard input."""
    password = _password()
    store = _open(_data(data))
    try:
        with store.session() as session:
            user = add_user(session, name, role, password)
            audit.append(session, "cli", "user.add", f"user {user.id}", {"role": role})
            result = {"name": user.name, "role": user.role, "id": user.id}
    finally:
        store.close()
    typer.echo(json.dumps(result) if as_json else f"user {name} added ({role})")


@friendly_errors
def db_upgrade(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = json_option(),
) -> None:
    """Create or upgrade the database schema to this version's latest."""
    store = _open(_data(data))
    try:
        rev = revision(store)
    finally:
        store.close()
    typer.echo(json.dumps({"revision": rev}) if as_json else f"database at revision {rev}")


@friendly_errors
def audit_verify(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = json_option(),
) -> None:
    """Check the audit chain: any changed, deleted or reordered entry is reported (exit 1)."""
    store = _open(_data(data), migrate=False)
    try:
        with store.session() as session:
            report = verify_chain(session)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
    elif report.ok:
        typer.echo(f"audit chain verified: {report.entries} entries")
    else:
        for problem in report.problems:
            typer.echo(f"audit: {problem}", err=True)
        typer.echo(f"audit chain BROKEN: {len(report.problems)} problem(s)", err=True)
    if not report.ok:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    user_app.command("add")(user_add)
    db_app.command("upgrade")(db_upgrade)
    audit_app.command("verify")(audit_verify)
    app.add_typer(user_app, name="user")
    app.add_typer(db_app, name="db")
    app.add_typer(audit_app, name="audit")
