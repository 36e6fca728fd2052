"""Turn radcycle errors into a clear message and exit status, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from radcycle.errors import RadcycleError

P = ParamSpec("P")
R = TypeVar("R")

err_console = Console(stderr=True, soft_wrap=True)


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator for commands: a RadcycleError becomes 'error: ...' and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except RadcycleError as exc:
            err_console.print(
                f"[bold red]error:[/] {type(exc).__name__}: {escape(str(exc))}", highlight=False
            )
            raise typer.Exit(code=2) from exc

    return wrapper
