"""The ``radcycle`` command line: thin typer commands over the library.

Each command group lives in its own module with a ``register(app)`` function,
listed explicitly in :data:`COMMANDS` (no discovery by import scanning).
"""

from __future__ import annotations

import importlib
import sys

import typer

from radcycle import __version__

# Explicit registry: command name -> the module whose ``register(app)`` adds it.
# Only the module of the command being run is imported, so a command starts
# without loading the libraries of all the others (``--help`` loads them all).
COMMANDS: dict[str, str] = {
    "demo": "radcycle.cli.demo_cmd",
    "inspect": "radcycle.cli.inspect_cmd",
    "qc": "radcycle.cli.qc_cmd",
    "synth": "radcycle.cli.synth_cmd",
    "segment": "radcycle.cli.lesion_cmd",
    "detect": "radcycle.cli.lesion_cmd",
    "measure": "radcycle.cli.lesion_cmd",
    "radiomics": "radcycle.cli.radiomics_cmd",
    "follow": "radcycle.cli.follow_cmd",
    "analyze": "radcycle.cli.analyze_cmd",
    "verify": "radcycle.cli.verify_cmd",
    "record": "radcycle.cli.record_cmd",
    "mine": "radcycle.cli.record_cmd",
    "deid": "radcycle.cli.deid_cmd",
    "deid-keygen": "radcycle.cli.deid_cmd",
    "deid-check": "radcycle.cli.deid_cmd",
    "batch": "radcycle.cli.batch_cmd",
    "serve": "radcycle.cli.serve_cmd",
    "user": "radcycle.cli.serve_cmd",
    "db": "radcycle.cli.serve_cmd",
    "audit": "radcycle.cli.serve_cmd",
    "fl": "radcycle.cli.fl_cmd",
    "pacs": "radcycle.cli.pacs_cmd",
    "listen": "radcycle.cli.listen_cmd",
    "train-segmenter": "radcycle.cli.model_cmd",
    "model-card": "radcycle.cli.model_cmd",
}

app = typer.Typer(
    name="radcycle",
    help="radcycle: read, measure, follow and report medical images, verified.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"radcycle {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """radcycle: full-cycle, verified AI assistance for medical imaging."""


def build_app(argv: list[str] | None = None) -> typer.Typer:
    """The typer app with the commands ``argv`` needs (all of them by default)."""
    args = argv or []
    words = [a for a in args if not a.startswith("-")]
    wanted = COMMANDS.get(words[0]) if words else None
    if wanted:
        modules = [wanted]
    elif "--version" in args and "--help" not in args:
        modules = [COMMANDS["inspect"]]  # the lightest; typer needs one command
    else:
        modules = list(dict.fromkeys(COMMANDS.values()))
    registered = {c.name for c in app.registered_commands}
    registered |= {g.name for g in app.registered_groups}
    for name in modules:
        module = importlib.import_module(name)
        names = {n for n, m in COMMANDS.items() if m == name}
        if not names <= registered:
            module.register(app)
            registered |= names
    return app


def main() -> None:
    build_app(sys.argv[1:])()


if __name__ == "__main__":
    main()
