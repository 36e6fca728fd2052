"""The records of de-identification runs: the encrypted manifest and the summary.

Several runs may write into one output folder (more input later, a rerun after a
kill); every run's records survive:

* ``deid-manifest.enc`` holds one line per run, each a Fernet token (AES-128-CBC
  with HMAC-SHA256, key derived from the de-identification key) of
  ``{"run": {...}, "records": [...]}``; a run appends its line. A folder written
  by another key is refused, so one folder never mixes unlinkable pseudonyms.
* ``deid-summary.json`` (no original names) holds ``runs`` (each run's start,
  end, options, counts and failures by reason), ``outputs`` (every output file in
  the folder with its status, the latest run's word for a name written twice)
  and ``counts`` (the latest run's, as printed).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from radcycle.errors import DataFormatError, PathNotFoundError
from radcycle.io.output import OutputFolder
from radcycle.privacy.keys import DeidKey

__all__ = [
    "MANIFEST_NAME",
    "STATUSES",
    "SUMMARY_NAME",
    "BatchSummary",
    "FileRecord",
    "check_manifest_key",
    "read_manifest",
    "record_run",
]

MANIFEST_NAME = "deid-manifest.enc"
SUMMARY_NAME = "deid-summary.json"
STATUSES = ("written", "quarantined", "skipped", "failed")


@dataclass
class FileRecord:
    """The fate of one input file.

    Attributes:
        source: input path relative to the input root (kept only in the manifest).
        status: ``written``, ``quarantined``, ``skipped`` (not a DICOM instance) or
            ``failed`` (unreadable, incomplete or unwritable).
        reason: why a file was quarantined, skipped or failed.
        output: output path relative to the output root.
        uid_map: original UID -> new UID.
        patient_id: original patient identifier; ``pseudonym`` its replacement.
    """

    source: str
    status: str
    reason: str = ""
    output: str = ""
    uid_map: dict[str, str] = field(default_factory=dict)
    patient_id: str = ""
    pseudonym: str = ""
    staged: str = ""


@dataclass
class BatchSummary:
    """All file records of a run and the counts by status."""

    records: list[FileRecord]

    def count(self, status: str) -> int:
        """How many files ended with ``status``."""
        return sum(1 for r in self.records if r.status == status)

    def reasons(self, status: str = "failed") -> dict[str, int]:
        """How many files ended with ``status``, by reason (most frequent first).

        Example:
            >>> BatchSummary([FileRecord("a", "failed", "cut short")]).reasons()
            {'cut short': 1}
        """
        found = collections.Counter(r.reason for r in self.records if r.status == status)
        return dict(found.most_common())


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _tokens(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line.strip()]


def _open(fernet: Fernet, token: bytes, path: Path) -> Any:
    try:
        return json.loads(fernet.decrypt(token))
    except InvalidToken as exc:
        raise DataFormatError(
            "manifest does not open with this key (or was altered)", path=path
        ) from exc


def check_manifest_key(out: Path, key: DeidKey) -> None:
    """Raise unless the manifest in ``out`` (if any) opens with ``key``.

    Raises:
        DataFormatError: the folder holds runs made with another key.
    """
    path = out / MANIFEST_NAME
    if path.is_file():
        fernet = Fernet(key.fernet_key())
        for token in _tokens(path):
            _open(fernet, token, path)


def read_manifest(out: Path, key: DeidKey) -> list[FileRecord]:
    """Decrypt the manifest of every run in ``out``: only the key holder can re-link.

    Records come run by run, oldest first.

    Raises:
        PathNotFoundError: no manifest in ``out``.
        DataFormatError: wrong key, or the manifest was altered.
    """
    path = out / MANIFEST_NAME
    if not path.is_file():
        raise PathNotFoundError("no de-identification manifest", path=path)
    fernet = Fernet(key.fernet_key())
    records: list[FileRecord] = []
    for token in _tokens(path):
        payload = _open(fernet, token, path)
        items = payload["records"] if isinstance(payload, dict) else payload  # one-run format
        records.extend(FileRecord(**item) for item in items)
    return records


def record_run(
    folder: OutputFolder, key: DeidKey, run: dict[str, Any], summary: BatchSummary
) -> None:
    """Append this run to the manifest, then merge it into the summary."""
    run = {**run, "finished": _now()}
    payload = {"run": run, "records": [asdict(r) for r in summary.records]}
    line = Fernet(key.fernet_key()).encrypt(json.dumps(payload, sort_keys=True).encode())
    manifest = folder.root / MANIFEST_NAME
    previous = manifest.read_bytes().rstrip(b"\n") + b"\n" if manifest.is_file() else b""
    folder.update(MANIFEST_NAME, previous + line + b"\n")
    _merge_summary(folder, run, summary)


def _merge_summary(folder: OutputFolder, run: dict[str, Any], summary: BatchSummary) -> None:
    path = folder.root / SUMMARY_NAME
    try:
        before = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        before = {}
    before = before if isinstance(before, dict) else {}
    runs = list(before.get("runs", []))
    if not runs and "counts" in before:  # a summary of the one-run format
        runs.append({"counts": before["counts"]})
    counts = {s: summary.count(s) for s in STATUSES}
    runs.append(
        {
            **run,
            "counts": counts,
            "failed": summary.reasons("failed"),
            "skipped": summary.reasons("skipped"),
        }
    )
    outputs = {o["output"]: o for o in before.get("outputs", []) if isinstance(o, dict)}
    for r in summary.records:
        if r.output:
            outputs[r.output] = {"output": r.output, "status": r.status, "reason": r.reason}
    document = {"counts": counts, "outputs": sorted(outputs.values(), key=_by_output), "runs": runs}
    folder.update(SUMMARY_NAME, json.dumps(document, indent=2, sort_keys=True) + "\n")


def _by_output(entry: dict[str, Any]) -> str:
    return str(entry["output"])
