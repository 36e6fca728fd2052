"""The review service's tables (SQLAlchemy 2 declarative models).

One row per concept: users and their credentials (sessions, API tokens),
patients and studies, analysis jobs, cases (an analysis ready for review), the
case's lesions with the reviewer's decision, report versions (draft -> edited ->
signed -> amended; a signed version is never changed), the feedback log of
confirm/reject decisions, and the hash-chained audit log with its head.

The schema is created by the Alembic migrations shipped in
``radcycle/store/migrations`` (``radcycle db upgrade``), never by ``create_all``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ROLES",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Case",
    "Decision",
    "Job",
    "Lesion",
    "Patient",
    "ReportVersion",
    "Study",
    "User",
    "WebSession",
]

#: The roles a user may have, least to most privileged for case work.
ROLES = ("viewer", "technologist", "radiologist", "admin")


class Base(DeclarativeBase):
    """The declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    created: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=True)


class WebSession(Base):
    """A browser session: the cookie holds a random secret, the table its SHA-256."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created: Mapped[datetime]
    expires: Mapped[datetime]


class ApiToken(Base):
    """A bearer token for the API (only its SHA-256 is kept)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created: Mapped[datetime]
    expires: Mapped[datetime]


class Patient(Base):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_key: Mapped[str] = mapped_column(String(128), unique=True)


class Study(Base):
    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    study_date: Mapped[str | None] = mapped_column(String(10))


class Job(Base):
    """An analysis to run: queued -> running -> done | failed.

    ``study_key`` is the SHA-256 of the sorted StudyInstanceUIDs (or of the PACS
    query): a second submission of the same studies returns the same job.
    """

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_key: Mapped[str] = mapped_column(String(64), unique=True)
    source_kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), index=True)
    stage: Mapped[str] = mapped_column(String(32), default="")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created: Mapped[datetime]
    updated: Mapped[datetime]


class Case(Base):
    """A finished analysis awaiting (or past) review; its files live under ``folder``."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    folder: Mapped[str] = mapped_column(String(512))
    analysis_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime]
    updated: Mapped[datetime]


class Lesion(Base):
    """A tracked lesion of a case and the reviewer's decision on it."""

    __tablename__ = "lesions"
    __table_args__ = (UniqueConstraint("case_id", "tracking_uid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    tracking_uid: Mapped[str] = mapped_column(String(64))
    tracking_identifier: Mapped[str] = mapped_column(String(64))
    first_timepoint: Mapped[int] = mapped_column(Integer, default=0)
    decision: Mapped[str] = mapped_column(String(16), default="pending")
    #: A new lesion (first seen on a follow-up): it counts only once confirmed.
    is_new: Mapped[bool] = mapped_column(default=False, server_default=false())


class ReportVersion(Base):
    """One version of a case's report; rows are only ever added."""

    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("case_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    document: Mapped[dict[str, Any]]
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_folder: Mapped[str | None] = mapped_column(String(512))
    created: Mapped[datetime]


class Decision(Base):
    """Every confirm/reject of a finding, in order (the feedback a site audits)."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    tracking_uid: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created: Mapped[datetime]


class AuditEntry(Base):
    """One line of the append-only audit log (see :mod:`radcycle.store.audit`)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last sequence number and hash: a deleted tail is detected too."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
