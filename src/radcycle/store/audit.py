"""The append-only audit log: who did what to which case, and when, hash-chained.

Each entry stores the hash of the entry before it and its own hash::

    hash = SHA-256(prev_hash | seq | at | actor | action | target | details)

and the ``audit_head`` row holds the last sequence number and hash, written in
the same transaction. :func:`verify_chain` recomputes the chain from the first
entry: a changed field breaks that entry's hash, a deleted or reordered entry
breaks the next entry's ``prev_hash`` or the sequence, and a deleted tail no
longer reaches the head. Details never hold patient data: cases are named by
their number, lesions by their tracking identifier.

Appending takes the head row's write lock first (an ``UPDATE`` that changes
nothing), so concurrent writers, on SQLite and PostgreSQL alike, chain one after
another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from radcycle.store.models import AuditEntry, AuditHead

__all__ = ["GENESIS", "ChainReport", "append", "entry_hash", "verify_chain"]

#: The ``prev_hash`` of the first entry.
GENESIS = "0" * 64


def entry_hash(
    prev_hash: str, seq: int, at: str, actor: str, action: str, target: str, details: str
) -> str:
    """The hash of one entry, chained to the one before.

    Example:
        >>> len(entry_hash(GENESIS, 1, "2025-01-01T00:00:00+00:00", "ana", "login", "-", "{}"))
        64
    """
    body = json.dumps([prev_hash, seq, at, actor, action, target, details], ensure_ascii=True)
    return hashlib.sha256(body.encode()).hexdigest()


def append(
    session: Session,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry in the caller's transaction (committed with the change it records)."""
    # The head row (seeded by the first migration) is locked before it is read.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is None:
        raise RuntimeError("the audit chain head is missing: run `radcycle db upgrade`")
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    text = json.dumps(dict(details or {}), sort_keys=True, ensure_ascii=True)
    seq = head.seq + 1
    digest = entry_hash(head.hash, seq, at, actor, action, target, text)
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        target=target,
        details=text,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(entry)
    head.seq, head.hash = seq, digest
    session.flush()
    return entry


@dataclass
class ChainReport:
    """What :func:`verify_chain` found."""

    entries: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "problems": list(self.problems)}


def verify_chain(session: Session) -> ChainReport:
    """Recompute the whole chain; every break is a problem naming the entry."""
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    report = ChainReport(len(rows))
    prev, expected = GENESIS, 1
    for row in rows:
        if row.seq != expected:
            report.problems.append(f"entry {row.seq}: expected entry {expected} (deleted entries)")
        if row.prev_hash != prev:
            report.problems.append(
                f"entry {row.seq}: does not follow the entry before it (deleted or reordered)"
            )
        digest = entry_hash(
            row.prev_hash, row.seq, row.at, row.actor, row.action, row.target, row.details
        )
        if digest != row.hash:
            report.problems.append(f"entry {row.seq}: content changed (hash mismatch)")
        prev, expected = row.hash, row.seq + 1
    head = session.get(AuditHead, 1)
    last_seq = rows[-1].seq if rows else 0
    if head is None:
        if rows:
            report.problems.append("the chain head is missing")
    elif head.seq != last_seq or head.hash != prev:
        report.problems.append(
            f"the log ends at entry {last_seq} but the head records entry {head.seq} "
            "(entries deleted at the end, or the head changed)"
        )
    return report
