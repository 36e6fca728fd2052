"""Writing an export safely, through the project's one output helper.

The target is checked before anything is computed (never over an existing file
without ``force``), then written under a temporary name beside it and moved into
place by :func:`radcycle.io.output.atomic_output`, so a failed write leaves the
old file or nothing, never half a file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from radcycle.errors import ExportError, UnsafeOutputError
from radcycle.io.output import OutputRules, atomic_output

__all__ = ["export"]

T = TypeVar("T")


def export(
    path: str | Path, force: bool, build: Callable[[], T], save: Callable[[T, Path], object]
) -> T:
    """Check the target, build the result, save it atomically; return the result.

    The target is checked first, so nothing is computed for an output that would
    be refused.

    Raises:
        UnsafeOutputError: the target exists (without ``force``) or is a folder.
        ExportError: it cannot be written.
    """
    target = Path(path)
    rules = OutputRules(force=force)
    rules.check(target)
    result = build()
    try:
        with atomic_output(target, rules) as temp:
            save(result, temp)
    except UnsafeOutputError:
        raise
    except OSError as exc:
        raise ExportError(f"cannot write: {exc.strerror}", path=target) from exc
    return result
