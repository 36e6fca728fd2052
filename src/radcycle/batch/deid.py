"""De-identification of an archive, one patient folder per item.

The input is an archive laid out by patient: each entry directly under ``IN`` (a
folder, or a lone file) is one item. Each item's task runs
:func:`radcycle.privacy.batch.deidentify_tree` (what ``radcycle deid`` runs) into
a staging folder under ``OUT``, then renames every file to its place, so the
de-identified files are the single command's, byte for byte::

    OUT/<pseudonymous PatientID>/<study>/<series>/<SOPInstanceUID>.dcm
    OUT/quarantine/...                          possible burned-in text
    OUT/deid-batch/item-<n>/deid-summary.json   counts and outputs of item n
    OUT/deid-batch/item-<n>/deid-manifest.enc   its encrypted re-link manifest

Items are named by their number, never by the input folder's name (which is
often a patient's name or identifier). The run folder's manifest does hold the
input paths: keep it with the originals, not with the output.

Known limit: the same SOP instance in two patient folders gets one output file
(the single command keeps both under keyed names).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from radcycle.batch.executors import TaskResult
from radcycle.batch.manifest import Item
from radcycle.batch.outputs import move_tree
from radcycle.errors import PathNotFoundError
from radcycle.privacy.batch import MANIFEST_NAME, SUMMARY_NAME, deidentify_tree
from radcycle.privacy.keys import DeidKey, load_keyfile
from radcycle.privacy.profile import DeidOptions

__all__ = ["BATCH_DIR", "STAGING_DIR", "deid_params", "deid_task", "patient_items"]

BATCH_DIR = "deid-batch"
STAGING_DIR = ".staging"
_STATUSES = ("written", "quarantined", "skipped", "failed")


def patient_items(source: Path) -> list[Item]:
    """One item per entry directly under ``source`` (hidden ones left out), sorted.

    Raises:
        PathNotFoundError: ``source`` is not a folder.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     for name in ("p2", "p1", ".cache"):
        ...         (Path(tmp) / name).mkdir()
        ...     [i.key for i in patient_items(Path(tmp))]
        ['item-000001', 'item-000002']
    """
    if not source.is_dir():
        raise PathNotFoundError("input folder not found", path=source)
    entries = sorted(p for p in source.iterdir() if not p.name.startswith("."))
    names = [f"item-{n:06d}" for n in range(1, len(entries) + 1)]
    return [Item(n, {"path": str(p), "name": n}) for n, p in zip(names, entries, strict=True)]


def deid_params(out: Path, keyfile: Path, key: DeidKey, options: DeidOptions) -> dict[str, str]:
    """The run's parameters: output, key file and a keyed fingerprint of it, options."""
    return {
        "command": "deid",
        "out": str(out),
        "key": str(keyfile),
        "key_fingerprint": key.digest("batch-run", "fingerprint").hex()[:16],
        "options": json.dumps(asdict(options), sort_keys=True),
    }


def deid_task(payload: dict[str, Any], params: dict[str, str]) -> TaskResult:
    """One patient folder: the single command's de-identification, then moved into ``OUT``."""
    out = Path(params["out"])
    name = str(payload["name"])
    staging = out / STAGING_DIR / name
    shutil.rmtree(staging, ignore_errors=True)  # what a killed attempt left
    key = load_keyfile(Path(params["key"]))
    options = DeidOptions(**json.loads(params["options"]))
    summary = deidentify_tree(Path(payload["path"]), staging, key, options, workers=1)
    records = staging / BATCH_DIR / name
    records.mkdir(parents=True)
    for record in (SUMMARY_NAME, MANIFEST_NAME):
        os.replace(staging / record, records / record)
    moved = move_tree(staging, out)
    return TaskResult(moved, {s: summary.count(s) for s in _STATUSES})
