"""The mark of a de-identification run that has not finished.

A run writes ``OUT/.radcycle-deid-running.json`` (start time, pid, input path and
options) before anything else and removes it after the summary and the manifest.
While the file is there the folder is incomplete: a run is going on, or one was
killed. ``inspect`` and ``deid-check`` say so; the next ``deid`` into the folder
clears what the killed run left (its ``.part`` files) and completes the work.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> unfinished_deid_run(folder) is None
    True
    >>> _ = (folder / MARKER_NAME).write_text('{"pid": 1, "started": "2026-01-01T00:00:00"}')
    >>> unfinished_deid_run(folder)["pid"]
    1
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["MARKER_NAME", "marker_document", "unfinished_deid_run"]

MARKER_NAME = ".radcycle-deid-running.json"


def marker_document(source: Path, options: dict[str, Any]) -> str:
    """The marker's JSON text for a run of this process on ``source``."""
    document = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "input": os.fsdecode(os.path.abspath(source)),
        "options": options,
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def unfinished_deid_run(folder: str | Path) -> dict[str, Any] | None:
    """The marker of an unfinished de-identification run in ``folder``, or None.

    A marker that cannot be read still means an unfinished run: its dict then
    holds only ``{"marker": path, "unreadable": reason}``.
    """
    path = Path(folder) / MARKER_NAME
    if not os.path.lexists(path):
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"marker": str(path), "unreadable": f"{type(exc).__name__}: {exc}"}
    if not isinstance(data, dict):
        return {"marker": str(path), "unreadable": "not a JSON object"}
    return {"marker": str(path), **data}
