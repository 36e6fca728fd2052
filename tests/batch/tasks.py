"""Tasks for the engine's tests: importable by reference in pool and Ray workers.

Each execution leaves a token in ``params["log"]`` (one empty file per run of an
item), so a test can count how many times each item really ran.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from radcycle.batch import TaskResult
from radcycle.batch.outputs import write_atomic
from radcycle.errors import InputError


def _log(payload: dict[str, Any], params: dict[str, str]) -> None:
    log = Path(params["log"])
    log.mkdir(parents=True, exist_ok=True)
    (log / f"{payload['name']}.{os.getpid()}.{uuid.uuid4().hex}").touch()


def write_task(payload: dict[str, Any], params: dict[str, str]) -> TaskResult:
    """Write ``<name>.txt`` holding the payload's text; kill the worker where asked.

    ``kill``: ``"once"`` kills this worker the first time (a marker remembers it),
    ``"always"`` every time. ``fail``: raise an InputError. ``sleep``: seconds.
    """
    _log(payload, params)
    time.sleep(float(payload.get("sleep", 0)))
    marker = Path(params["log"]) / f"{payload['name']}.killed"
    if payload.get("kill") == "always" or (payload.get("kill") == "once" and not marker.exists()):
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    if payload.get("fail"):
        raise InputError("planted failure", path=payload["name"])
    name = f"{payload['name']}.txt"
    write_atomic(Path(params["out"]) / name, str(payload["text"]).encode())
    return TaskResult([name], {"pid": os.getpid()})


def runs(log: Path) -> dict[str, int]:
    """How many times each item ran, from the tokens in ``log``."""
    counts: dict[str, int] = {}
    for token in log.iterdir():
        if not token.name.endswith(".killed"):
            name = token.name.split(".")[0]
            counts[name] = counts.get(name, 0) + 1
    return counts
