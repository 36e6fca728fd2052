"""Review of a case: decisions on findings, edits, sign-off, amendment, feedback export.

Every change is one transaction that also appends its audit entry. Report
versions are only ever added; the case's ``current_version`` moves by an atomic
``UPDATE ... WHERE current_version = <the version the editor saw>``, so of two
editors who saw the same version the second gets :class:`ConflictError` (HTTP 409),
never a silent overwrite. Whatever is recomputed (response, draft, verdicts,
exports) comes from :mod:`radcycle.pipeline.review`.
"""

from __future__ import annotations

import csv
import difflib
import io
import shutil
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from radcycle.pipeline.analysis import PatientAnalysis
from radcycle.pipeline.review import (
    ANALYSIS_FILE,
    draft,
    edited_document,
    load_analysis,
    write_signed,
)
from radcycle.service.security import Principal
from radcycle.store import audit
from radcycle.store.db import Store
from radcycle.store.models import Case, Decision, Lesion, ReportVersion, User

__all__ = [
    "AnalysisCache",
    "ConflictError",
    "NotFoundError",
    "RefusedError",
    "amend",
    "decide",
    "edit",
    "feedback",
    "feedback_csv",
    "sign",
]

DECISIONS = ("confirmed", "rejected")


class NotFoundError(Exception):
    """No such case or lesion (404)."""


class ConflictError(Exception):
    """The report changed since the editor opened it (409)."""


class RefusedError(Exception):
    """The case is not in a state that allows this (409 with the reason)."""


def _now() -> datetime:
    return datetime.now(UTC)


class AnalysisCache:
    """The last few analyses read back from their case folders."""

    def __init__(self, size: int = 3) -> None:
        self.size = size
        self._items: OrderedDict[tuple[int, str], PatientAnalysis] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, case: Case) -> PatientAnalysis:
        key = (case.id, case.analysis_sha256)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        analysis = load_analysis(Path(case.folder) / ANALYSIS_FILE, case.analysis_sha256)
        with self._lock:
            self._items[key] = analysis
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return analysis


def _case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError(f"no case {case_id}")
    return case


def current(session: Session, case: Case) -> ReportVersion:
    version = session.scalar(
        select(ReportVersion).where(
            ReportVersion.case_id == case.id, ReportVersion.number == case.current_version
        )
    )
    if version is None:
        raise NotFoundError(f"case {case.id} has no version {case.current_version}")
    return version


def decisions(session: Session, case: Case) -> dict[str, str]:
    """The radiologist's decision on each lesion of the case (pending ones left out)."""
    rows = session.scalars(select(Lesion).where(Lesion.case_id == case.id)).all()
    return {r.tracking_uid: r.decision for r in rows if r.decision in DECISIONS}


def _advance(session: Session, case: Case, base: int, version: ReportVersion) -> None:
    moved = session.execute(
        update(Case)
        .where(Case.id == case.id, Case.current_version == base)
        .values(current_version=version.number, status=version.status, updated=_now())
    )
    if getattr(moved, "rowcount", 0) != 1:
        raise ConflictError(
            "the report was changed by someone else since you opened it "
            f"(you edited version {base}); reload to see their version"
        )
    session.add(version)


def _new_version(case: Case, base: int, status: str, document: dict[str, Any], text: str,
                 author: int | None) -> ReportVersion:  # fmt: skip
    return ReportVersion(
        case_id=case.id,
        number=base + 1,
        status=status,
        document=document,
        text=text,
        author_id=author,
        created=_now(),
    )


def _editable(version: ReportVersion) -> None:
    if version.status in {"signed", "amended"}:
        raise RefusedError("the report is signed; amend it to change it")


def decide(
    store: Store,
    cache: AnalysisCache,
    case_id: int,
    tracking_uid: str,
    decision: str,
    base: int,
    who: Principal,
) -> int:
    """Confirm or reject a lesion; the response and the draft are recomputed.

    Returns:
        The new version number.
    """
    if decision not in DECISIONS:
        raise RefusedError(f"a decision is one of {', '.join(DECISIONS)}")
    with store.session() as session:
        case = _case(session, case_id)
        _editable(current(session, case))
        lesion = session.scalar(
            select(Lesion).where(Lesion.case_id == case.id, Lesion.tracking_uid == tracking_uid)
        )
        if lesion is None:
            raise NotFoundError("no such lesion in the case")
        lesion.decision = decision
        session.add(
            Decision(
                case_id=case.id,
                tracking_uid=tracking_uid,
                decision=decision,
                user_id=who.user_id,
                created=_now(),
            )
        )
        session.flush()
        analysis = cache.get(case)
        report = draft(analysis, decisions(session, case), _now().isoformat())
        version = _new_version(case, base, "draft", report.to_dict(), report.to_text(), who.user_id)
        _advance(session, case, base, version)
        audit.append(
            session,
            who.name,
            f"finding.{decision[:-2] if decision.endswith('ed') else decision}",
            f"case {case.id}",
            {"lesion": lesion.tracking_identifier, "version": version.number},
        )
        return version.number


def edit(store: Store, case_id: int, text: str, base: int, who: Principal) -> tuple[int, list[Any]]:
    """Store edited text as a new version, with the verifier's verdict on each sentence."""
    if len(text) > 100_000:
        raise RefusedError("the report text is longer than 100,000 characters")
    with store.session() as session:
        case = _case(session, case_id)
        before = current(session, case)
        _editable(before)
        document = edited_document(text, before.document)
        verdicts = document["verdicts"]
        version = _new_version(case, base, "edited", document, text, who.user_id)
        _advance(session, case, base, version)
        unsupported = sum(1 for v in verdicts if not v["supported"])
        audit.append(
            session,
            who.name,
            "report.edit",
            f"case {case.id}",
            {"version": version.number, "unsupported_sentences": unsupported},
        )
        return version.number, verdicts


def sign(store: Store, cache: AnalysisCache, case_id: int, base: int, who: Principal) -> int:
    """Freeze the current version as signed and write the final SR, SEG and FHIR.

    The files are written to ``signed-v<n>.partial`` and renamed to ``signed-v<n>``
    before the transaction that records the signature commits: after a crash there
    is either a signed version with all its files or no signed version (and the
    leftover folder is removed at the next sign or start).
    """
    with store.session() as session:
        case = _case(session, case_id)
        before = current(session, case)
        _editable(before)
        if before.number != base:
            raise ConflictError(
                f"the report is at version {before.number}, you signed version {base}; reload"
            )
        analysis = cache.get(case)
        pending = {
            r.tracking_identifier
            for r in session.scalars(select(Lesion).where(Lesion.case_id == case.id))
            if r.decision == "pending" and r.is_new
        }
        if pending:
            raise RefusedError(
                "confirm or reject the new lesions before signing: " + ", ".join(sorted(pending))
            )
        amended = session.scalar(
            select(ReportVersion.id).where(
                ReportVersion.case_id == case.id, ReportVersion.status == "signed"
            )
        )
        status = "amended" if amended is not None else "signed"
        number = base + 1
        at = _now()
        folder = Path(case.folder) / f"signed-v{number}"
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
        partial.mkdir()
        signature = {"name": who.name, "at": at.isoformat(timespec="seconds"), "role": who.role}
        try:
            warnings = write_signed(
                analysis, dict(before.document), before.text, partial, signature
            )
            partial.rename(folder)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        document = dict(before.document)
        document["signature"] = signature
        document["export_warnings"] = warnings
        version = _new_version(case, base, status, document, before.text, who.user_id)
        version.signed_folder = str(folder)
        _advance(session, case, base, version)
        audit.append(
            session, who.name, f"report.{status[:-2] if status == 'signed' else 'amend'}",
            f"case {case.id}", {"version": number},
        )  # fmt: skip
        return number


def amend(store: Store, case_id: int, base: int, who: Principal) -> int:
    """Open a signed report for amendment: a new editable version of the signed text."""
    with store.session() as session:
        case = _case(session, case_id)
        before = current(session, case)
        if before.status not in {"signed", "amended"}:
            raise RefusedError("only a signed report can be amended")
        document = {k: v for k, v in before.document.items() if k != "signature"}
        version = _new_version(case, base, "edited", document, before.text, who.user_id)
        _advance(session, case, base, version)
        audit.append(session, who.name, "report.reopen", f"case {case.id}", {"version": base + 1})
        return version.number


def _ai_text(case: Case) -> str:
    path = Path(case.folder) / "report.txt"
    return path.read_text() if path.is_file() else ""


def feedback(session: Session, case_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Per signed case: the AI draft vs the signed text (unified diff) and every decision."""
    query = select(Case).order_by(Case.id)
    if case_ids:
        query = query.where(Case.id.in_(case_ids))
    names = {u.id: u.name for u in session.scalars(select(User))}
    out = []
    for case in session.scalars(query):
        versions = session.scalars(
            select(ReportVersion)
            .where(ReportVersion.case_id == case.id)
            .order_by(ReportVersion.number)
        ).all()
        signed = [v for v in versions if v.status in {"signed", "amended"}]
        ai = _ai_text(case)
        final = signed[-1].text if signed else None
        decisions = session.scalars(
            select(Decision).where(Decision.case_id == case.id).order_by(Decision.id)
        ).all()
        identifiers = {
            r.tracking_uid: r.tracking_identifier
            for r in session.scalars(select(Lesion).where(Lesion.case_id == case.id))
        }
        out.append(
            {
                "case": case.id,
                "status": case.status,
                "signed_version": signed[-1].number if signed else None,
                "signed_by": names.get(signed[-1].author_id or -1) if signed else None,
                "ai_draft": ai,
                "signed_text": final,
                "diff": list(
                    difflib.unified_diff(
                        ai.splitlines(),
                        (final or "").splitlines(),
                        "ai_draft",
                        "signed",
                        lineterm="",
                    )
                )
                if final is not None
                else [],
                "decisions": [
                    {
                        "lesion": identifiers.get(d.tracking_uid, d.tracking_uid),
                        "tracking_uid": d.tracking_uid,
                        "decision": d.decision,
                        "by": names.get(d.user_id),
                        "at": d.created.isoformat(),
                    }
                    for d in decisions
                ],
            }
        )
    return out


def feedback_csv(rows: list[dict[str, Any]]) -> str:
    """The feedback as CSV: one row per decision and one per changed line of the text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["case", "kind", "lesion", "decision_or_change", "by", "at", "text"])
    for row in rows:
        for d in row["decisions"]:
            writer.writerow([row["case"], "decision", d["lesion"], d["decision"], d["by"],
                             d["at"], ""])  # fmt: skip
        for line in row["diff"]:
            if line.startswith(("+++", "---", "@@")):
                continue
            if line.startswith(("+", "-")):
                change = "added" if line[0] == "+" else "removed"
                writer.writerow([row["case"], "text", "", change, row["signed_by"], "", line[1:]])
    return buffer.getvalue()
