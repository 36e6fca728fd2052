"""Turn radcycle errors into a clear message and exit status, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from radcycle.errors import ExportError, RadcycleError

#: The longest error a user is shown (characters); the rest is cut, and says so.
MAX_ERROR_CHARS = 600

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
            text = error_text(exc, _first_path(kwargs.values()))
            err_console.print(
                f"[bold red]error:[/] {type(exc).__name__}: {escape(text)}", highlight=False
            )
            raise typer.Exit(code=2) from exc

    return wrapper


def error_text(exc: RadcycleError, path: Path | None) -> str:
    """The message of ``exc``, naming ``path`` where it names no file, kept short.

    Example:
        >>> from radcycle.errors import AnalysisError
        >>> error_text(AnalysisError("nothing here"), Path("ct.nii"))
        'ct.nii: nothing here'
        >>> len(error_text(AnalysisError("x" * 5000), None)) <= MAX_ERROR_CHARS
        True
    """
    text = str(exc)
    if exc.path is None and path is not None:
        text = f"{path}: {text}"
    if len(text) > MAX_ERROR_CHARS:
        more = len(text) - MAX_ERROR_CHARS + 40
        text = f"{text[: MAX_ERROR_CHARS - 40]}... ({more} characters more)"
    return text


def _first_path(values: Iterable[object]) -> Path | None:
    """The command's first single-file argument: the input an error is about."""
    return next((v for v in values if isinstance(v, Path)), None)


def warn_all(notes: Iterable[str]) -> None:
    """Print each note as ``warning: ...`` on stderr (user text escaped)."""
    for note in notes:
        err_console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False)


def series_problems(metadata: Mapping[str, Any]) -> list[dict[str, str]]:
    """The reader's problems with a series, warned on stderr and returned for JSON.

    Every command that reads an image calls this, so no result hides that its
    series had missing, interpolated or duplicate slices, a tilt, or an unknown
    spacing.
    """
    problems = [dict(p) for p in metadata.get("problems") or [] if isinstance(p, Mapping)]
    warn_all(f"series problem {p.get('code')}: {p.get('message')}" for p in problems)
    return problems


def refuse_overlap(out: Path, inputs: Iterable[Path], *, inside_ok: bool = False) -> None:
    """Refuse an output that is an input, holds one, or (unless ``inside_ok``) lies inside one.

    Raises:
        ExportError: ``out`` and an input share a path.

    Example:
        >>> refuse_overlap(Path("/tmp/out"), [Path("/tmp/in")])
        >>> refuse_overlap(Path("/tmp/in/out"), [Path("/tmp/in")])
        Traceback (most recent call last):
        ...
        radcycle.errors.ExportError: /tmp/in/out: the output overlaps an input [value '/tmp/in']
    """
    target = out.resolve()
    for source in inputs:
        here = source.resolve()
        inside = here in target.parents and not inside_ok
        if target == here or inside or target in here.parents:
            raise ExportError("the output overlaps an input", path=out, value=str(source))
