"""The ``radcycle`` command line: thin typer commands over the library.

Each command group lives in its own module with a ``register(app)`` function,
listed explicitly in :data:`COMMAND_MODULES` (no discovery by import scanning).
"""

from __future__ import annotations

import importlib

import typer

from radcycle import __version__

# Explicit registry of command modules; each has ``register(app: typer.Typer)``.
COMMAND_MODULES: tuple[str, ...] = (
    "radcycle.cli.deid_cmd",
    "radcycle.cli.follow_cmd",
    "radcycle.cli.inspect_cmd",
    "radcycle.cli.demo_cmd",
    "radcycle.cli.record_cmd",
    "radcycle.cli.radiomics_cmd",
    "radcycle.cli.lesion_cmd",
    "radcycle.cli.synth_cmd",
)

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


def build_app() -> typer.Typer:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def main() -> None:
    build_app()()


if __name__ == "__main__":
    main()
