"""One spelling, one meaning: the options every ``radcycle`` command shares.

Each concept has one helper here, so a command cannot spell it differently:

================  =============================  ==========================================
concept           spelling                       helper
================  =============================  ==========================================
machine output    ``--json``                     :func:`json_option`
output location   ``--out PATH``                 :func:`out_option`
replace output    ``--force``                    :func:`force_option` (help :data:`FORCE_HELP`)
a click point     ``--point X,Y,Z``              :func:`point_option`, :func:`parse_point`
a lesion point    ``--lesion X,Y,Z[:organ]``     :func:`point_option`, :func:`parse_point`
randomness        ``--random-seed N``            :func:`random_seed_option`
================  =============================  ==========================================

Old spellings stay for one release as hidden options (:func:`deprecated_alias`,
:func:`deprecated_argument`); :func:`pick` takes whichever was given, prints a
one-line ``warning:`` naming the new spelling, and behaves identically.

A point is parsed in the command body, not by click, so a bad one gives the
one-line ``error: ...`` and exit status 2 of every other bad input.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, TypeVar

import typer

from radcycle.cli.errors import warn_all
from radcycle.errors import InputError

T = TypeVar("T")

#: The help of every ``--force``; a command may add a sentence after it.
FORCE_HELP = "Replace an existing output (without it, nothing existing is overwritten)."

#: The help of every ``--json``.
JSON_HELP = "Print the result as JSON on stdout (messages go to stderr)."

#: Printed (after the old spelling) when an old spelling is used.
REMOVAL = "is deprecated and goes in the next release"


class DeprecatedSpellingWarning(DeprecationWarning):
    """An old spelling was used. Silent by default (the user reads the ``warning:``
    line); an error under ``-W error``, so a test suite cannot keep old spellings."""


def json_option(help: str = JSON_HELP) -> Any:
    """``--json``: machine-readable JSON on stdout."""
    return typer.Option(False, "--json", help=help)


def out_option(help: str, *, required: bool = False, metavar: str = "PATH") -> Any:
    """``--out PATH``: where the command writes.

    ``required`` only where no deprecated spelling of the output exists; a command
    keeping an old positional output calls :func:`pick` then :func:`require`.
    """
    return typer.Option(... if required else None, "--out", metavar=metavar, help=help)


def force_option(detail: str = "") -> Any:
    """``--force``: replace an existing output; ``detail`` says what exactly."""
    return typer.Option(False, "--force", help=f"{FORCE_HELP} {detail}".strip())


def random_seed_option(default: int = 0, help: str = "") -> Any:
    """``--random-seed N``: the seed of everything random; the same seed, the same bytes."""
    text = help or "Seed of the random generator; the same seed gives the same output."
    return typer.Option(default, "--random-seed", metavar="N", help=text)


def point_option(
    flag: str = "--point", *, multiple: bool = False, organ: bool = False, help: str = ""
) -> Any:
    """A point in patient LPS millimetres: ``X,Y,Z`` (``X,Y,Z[:organ]`` with ``organ``).

    The text is kept as given; the command parses it with :func:`parse_point`.
    """
    syntax = "X,Y,Z[:organ]" if organ else "X,Y,Z"
    text = help or f"A point: {syntax} in patient LPS mm."
    return typer.Option([] if multiple else None, flag, metavar=syntax, help=text)


@dataclass(frozen=True)
class Point:
    """A point in patient LPS millimetres, with the organ named after it, if any.

    Example:
        >>> Point(1.0, 2.0, 3.5).mm
        (1.0, 2.0, 3.5)
    """

    x: float
    y: float
    z: float
    organ: str | None = None

    @property
    def mm(self) -> tuple[float, float, float]:
        return (self.x, self.y, self.z)


def parse_point(text: str, *, flag: str = "--point", organ: bool = False) -> Point:
    """``"X,Y,Z"`` (or ``"X,Y,Z:organ"`` where ``organ``) in LPS mm to a :class:`Point`.

    Raises:
        InputError: not three finite numbers, or an organ where none is allowed.

    Example:
        >>> parse_point("-80, 36.5,-217")
        Point(x=-80.0, y=36.5, z=-217.0, organ=None)
        >>> parse_point("-80,36.5,-217:Lymph Node", flag="--lesion", organ=True).organ
        'lymph node'
        >>> parse_point("1,2")
        Traceback (most recent call last):
        ...
        radcycle.errors.InputError: --point must be X,Y,Z: three numbers in LPS mm [value '1,2']
    """
    syntax = "X,Y,Z[:organ]" if organ else "X,Y,Z"
    problem = f"{flag} must be {syntax}: three numbers in LPS mm"
    coords, sep, name = text.partition(":") if organ else (text, "", "")
    parts = coords.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError as exc:
        raise InputError(problem, value=text) from exc
    if len(values) != 3:
        raise InputError(problem, value=text)
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{flag} must be finite numbers {syntax}", value=text)
    if sep and not name.strip():
        raise InputError(f"{flag}: an organ name must follow ':'", value=text)
    return Point(values[0], values[1], values[2], name.strip().lower() or None)


def deprecated_alias(
    old: str, new: str, *, metavar: str | None = None, multiple: bool = False
) -> Any:
    """A hidden option spelled ``old``, kept one release for ``new`` (repeatable,
    as ``new`` is, with ``multiple``); read it with :func:`pick`."""
    return typer.Option(
        [] if multiple else None, old, hidden=True, metavar=metavar, help=f"Deprecated: use {new}."
    )


def deprecated_argument(new: str, metavar: str = "OUT") -> Any:
    """A hidden optional positional kept one release for the option ``new``."""
    return typer.Argument(None, hidden=True, metavar=metavar, help=f"Deprecated: use {new}.")


def pick(new: T | None, old: T | None, *, new_flag: str, old_flag: str, default: Any = None) -> T:
    """The value of ``new``, or of its deprecated spelling ``old`` (with a warning).

    ``default`` is ``new``'s default: ``new`` differing from it counts as given.

    Raises:
        InputError: both spellings given, with different values.

    Example:
        >>> pick(3, None, new_flag="--random-seed", old_flag="--seed", default=0)
        3
    """
    if old is None:
        return new  # type: ignore[return-value]
    if new is not None and new != default and new != old:
        raise InputError(f"give {new_flag} only ({old_flag} is its deprecated spelling)")
    message = f"{old_flag} {REMOVAL}; use {new_flag}"
    warn_all([message])
    warnings.warn(message, DeprecatedSpellingWarning, stacklevel=2)
    return old


def require(value: T | None, flag: str, what: str) -> T:
    """``value``, or a clear error saying that ``flag`` (``what``) is needed.

    Raises:
        InputError: ``value`` is None.
    """
    if value is None:
        raise InputError(f"missing {flag} {what}")
    return value
