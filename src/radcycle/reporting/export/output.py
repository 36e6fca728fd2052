"""Writing an export safely: never over an existing file without ``force``, never half.

Files are written to a temporary name beside the target and moved into place, so
a failed write leaves nothing half-written and the target is either the old file
or the complete new one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from radcycle.errors import ExportError

__all__ = ["check_target", "export", "write_atomically"]

T = TypeVar("T")


def check_target(path: str | Path, force: bool) -> Path:
    """The output path, refused where it exists and ``force`` is not given."""
    target = Path(path)
    if target.exists() and not force:
        raise ExportError("the output exists (use --force to replace it)", path=target)
    if not target.parent.is_dir():
        raise ExportError("the output folder does not exist", path=target.parent)
    return target


def write_atomically(target: Path, write: Callable[[Path], object]) -> Path:
    """Run ``write`` on a temporary file beside ``target``, then move it into place."""
    # a fresh name beside the target (not mkstemp: the file gets the usual permissions)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        tmp.replace(target)
    except OSError as exc:
        raise ExportError(f"cannot write: {exc.strerror}", path=target) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def export(
    path: str | Path, force: bool, build: Callable[[], T], save: Callable[[T, Path], object]
) -> T:
    """Check the target, build the result, save it atomically; return the result.

    The target is checked first, so nothing is computed for an output that would
    be refused.
    """
    target = check_target(path, force)
    result = build()
    write_atomically(target, lambda tmp: save(result, tmp))
    return result
