"""The run folder's manifest: one SQLite row per item, and the lock that guards it.

A run folder holds ``manifest.sqlite`` and a ``lock`` file. Each item is in one of
four states::

    pending -> running -> done    (outputs and their sha256 recorded)
                       -> failed  (reason: the error's type; error: its message)

Only the driver writes the manifest. A driver killed with ``kill -9`` leaves items
``running``; the next driver finds them (the lock is free again: the kernel drops
an ``flock`` with its process) and puts them back to ``pending``. A ``done`` item
whose outputs are gone, or whose checksum no longer matches, is pending again too.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from radcycle.batch.outputs import tree_checksum
from radcycle.errors import InputError

__all__ = ["MANIFEST_NAME", "Item", "ItemState", "Manifest", "open_manifest"]

MANIFEST_NAME = "manifest.sqlite"
_LOCK_NAME = "lock"
STATUSES = ("pending", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY,
    key TEXT UNIQUE NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    outputs TEXT NOT NULL DEFAULT '[]',
    checksum TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '{}',
    started REAL,
    finished REAL
);
"""


@dataclass(frozen=True)
class Item:
    """One unit of work: a key unique in the run, and a JSON payload of paths and names.

    Example:
        >>> Item("case-1", {"image": "a.nii.gz"}).key
        'case-1'
    """

    key: str
    payload: dict[str, Any]


@dataclass
class ItemState:
    """An item as the manifest holds it."""

    seq: int
    key: str
    payload: dict[str, Any]
    status: str
    attempts: int = 0
    outputs: list[str] = field(default_factory=list)
    checksum: str = ""
    reason: str = ""
    error: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


def _state(row: sqlite3.Row) -> ItemState:
    return ItemState(
        seq=row["seq"],
        key=row["key"],
        payload=json.loads(row["payload"]),
        status=row["status"],
        attempts=row["attempts"],
        outputs=json.loads(row["outputs"]),
        checksum=row["checksum"],
        reason=row["reason"],
        error=row["error"],
        summary=json.loads(row["summary"]),
    )


class Manifest:
    """The items of one run folder; every change is committed at once."""

    def __init__(self, folder: Path, db: sqlite3.Connection) -> None:
        self.folder = folder
        self._db = db

    def meta(self) -> dict[str, str]:
        """The run's recorded parameters (command, config, input...)."""
        return {r["name"]: r["value"] for r in self._db.execute("SELECT name, value FROM meta")}

    def adopt(self, params: dict[str, str], items: Sequence[Item]) -> None:
        """Record ``params`` and ``items`` in a new run, or check they are this run's.

        Raises:
            InputError: the folder holds a run of other parameters or other items.
        """
        known = self.meta()
        if known and known != params:
            changed = sorted(k for k in set(known) | set(params) if known.get(k) != params.get(k))
            raise InputError(
                "run folder was made with other parameters; use another --run or --force",
                path=self.folder,
                value=changed,
            )
        rows = self._db.execute("SELECT key, payload FROM items ORDER BY seq").fetchall()
        if rows:
            had = [(r["key"], json.loads(r["payload"])) for r in rows]
            if had != [(i.key, i.payload) for i in items]:
                raise InputError(
                    "run folder was made for other items; use another --run or --force",
                    path=self.folder,
                    value=f"{len(had)} items recorded, {len(items)} given",
                )
            return
        with self._db:
            self._db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(params.items()))
            self._db.executemany(
                "INSERT INTO items (seq, key, payload, status) VALUES (?, ?, ?, 'pending')",
                [(n, i.key, json.dumps(i.payload, sort_keys=True)) for n, i in enumerate(items)],
            )

    def recover(self, root: Path) -> int:
        """Put back to pending what a dead driver left running and done items now broken.

        Args:
            root: the folder the recorded outputs are relative to.

        Returns:
            how many done items were found without their outputs (or altered).
        """
        broken = [
            s.seq
            for s in self.states("done")
            if not all((root / o).is_file() for o in s.outputs)
            or tree_checksum(root, s.outputs) != s.checksum
        ]
        with self._db:
            self._db.execute("UPDATE items SET status = 'pending' WHERE status = 'running'")
            self._db.executemany(
                "UPDATE items SET status = 'pending' WHERE seq = ?", [(s,) for s in broken]
            )
        return len(broken)

    def states(self, *statuses: str) -> list[ItemState]:
        """The items in any of ``statuses`` (all of them when none is given), in input order."""
        wanted = statuses or STATUSES
        marks = ", ".join("?" for _ in wanted)
        query = f"SELECT * FROM items WHERE status IN ({marks}) ORDER BY seq"
        return [_state(r) for r in self._db.execute(query, wanted)]

    def counts(self) -> dict[str, int]:
        """How many items are in each status."""
        rows = self._db.execute("SELECT status, COUNT(*) AS n FROM items GROUP BY status")
        found = {r["status"]: r["n"] for r in rows}
        return {s: found.get(s, 0) for s in STATUSES}

    def start(self, seq: int) -> int:
        """Mark an item running; returns its attempt number (1 for the first)."""
        with self._db:
            self._db.execute(
                "UPDATE items SET status = 'running', attempts = attempts + 1, started = ?"
                " WHERE seq = ?",
                (time.time(), seq),
            )
        row = self._db.execute("SELECT attempts FROM items WHERE seq = ?", (seq,)).fetchone()
        return int(row["attempts"])

    def finish(self, seq: int, outputs: list[str], checksum: str, summary: dict[str, Any]) -> None:
        """Mark an item done with the outputs its task wrote."""
        with self._db:
            self._db.execute(
                "UPDATE items SET status = 'done', outputs = ?, checksum = ?, summary = ?,"
                " reason = '', error = '', finished = ? WHERE seq = ?",
                (json.dumps(outputs), checksum, json.dumps(summary), time.time(), seq),
            )

    def fail(self, seq: int, reason: str, error: str) -> None:
        """Mark an item failed; ``reason`` is the error's type, ``error`` its message."""
        with self._db:
            self._db.execute(
                "UPDATE items SET status = 'failed', reason = ?, error = ?, finished = ?"
                " WHERE seq = ?",
                (reason, error, time.time(), seq),
            )

    def requeue(self, seqs: Iterable[int]) -> None:
        """Put items back to pending (their worker died before answering)."""
        with self._db:
            self._db.executemany(
                "UPDATE items SET status = 'pending' WHERE seq = ?", [(s,) for s in seqs]
            )


def _take_lock(folder: Path) -> TextIO:
    handle = (folder / _LOCK_NAME).open("a", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise InputError("another batch run is using this run folder", path=folder) from exc
    return handle


@contextmanager
def open_manifest(folder: Path) -> Iterator[Manifest]:
    """Open (or create) the run folder ``folder`` and hold its lock while in use.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with open_manifest(Path(tmp) / "run") as m:
        ...         m.adopt({"command": "demo"}, [Item("a", {}), Item("b", {})])
        ...         m.counts()["pending"]
        2
    """
    folder.mkdir(parents=True, exist_ok=True)
    lock = _take_lock(folder)
    db = sqlite3.connect(folder / MANIFEST_NAME, isolation_level="DEFERRED")
    db.row_factory = sqlite3.Row
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript(_SCHEMA)
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield Manifest(folder, db)
    finally:
        db.close()
        lock.close()
