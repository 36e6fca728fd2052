"""The JSON API (``/api/...``): tokens, jobs, cases, review, feedback, audit.

Every route names the roles it admits (:func:`~radcycle.service.security.require`).
Errors are ``{"detail": ...}`` with 401 (no or expired credential), 403 (role or
CSRF), 404, 409 (conflict or refused state), 413 (upload too large), 415 (not
DICOM), 422 (bad input) or 429 (too many failed logins).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, UploadFile
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import bindparam, func, select
from starlette.concurrency import run_in_threadpool

from radcycle.errors import RadcycleError
from radcycle.pipeline.intake import is_dicom_file
from radcycle.pipeline.review import WINDOWS, evidence_png, lesion_slices, slice_png
from radcycle.service import cases
from radcycle.service.jobs import folder_uids, submit
from radcycle.service.reads import read
from radcycle.service.security import Principal, require
from radcycle.store import audit
from radcycle.store.db import Store
from radcycle.store.models import Case, Job, Lesion, Patient, ReportVersion, Study
from radcycle.store.users import check_password, new_secret

__all__ = ["router"]

router = APIRouter(prefix="/api")
Reader = Annotated[Principal, Depends(require("viewer", "technologist", "radiologist"))]
Submitter = Annotated[Principal, Depends(require("technologist", "radiologist"))]
Radiologist = Annotated[Principal, Depends(require("radiologist"))]
Admin = Annotated[Principal, Depends(require("admin"))]
_UPLOAD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _cache(request: Request) -> cases.AnalysisCache:
    cache: cases.AnalysisCache | None = getattr(request.app.state, "analyses", None)
    if cache is None:
        cache = cases.AnalysisCache()
        request.app.state.analyses = cache
    return cache


def client_key(request: Request, name: str) -> str:
    host = request.client.host if request.client else "-"
    return f"{name.lower()}|{host}"


class TokenRequest(BaseModel):
    name: str = Field(max_length=64)
    password: str = Field(max_length=1024)


@router.post("/tokens", tags=["auth"])
def create_token(body: TokenRequest, request: Request) -> dict[str, Any]:
    """A bearer token for a user name and password (public; rate-limited)."""
    limiter = request.app.state.limiter
    key = client_key(request, body.name)
    if limiter.blocked(key):
        raise HTTPException(429, "too many failed logins; wait and try again")
    settings = request.app.state.settings
    with _store(request).session() as session:
        user = check_password(session, body.name, body.password)
        if user is None:
            limiter.failed(key)
            audit.append(session, body.name[:64], "login.fail", "api")
            raise HTTPException(401, "wrong user name or password")
        limiter.succeeded(key)
        token, _ = new_secret(session, user, "token", settings.token_lifetime)
        audit.append(session, user.name, "token.create", "api")
        return {
            "token": token,
            "token_type": "bearer",
            "expires_in": int(settings.token_lifetime.total_seconds()),
            "role": user.role,
        }


@router.get("/me", tags=["auth"])
def me(who: Reader) -> dict[str, Any]:
    return {"name": who.name, "role": who.role}


# --- jobs -----------------------------------------------------------------------------


class FolderJob(BaseModel):
    folder: str = Field(max_length=4096)
    fhir: str | None = Field(default=None, max_length=4096)
    priority: int = Field(default=0, ge=0, le=9)


class PacsJob(BaseModel):
    url: str = Field(max_length=2048)
    study_instance_uids: list[str] = Field(min_length=1, max_length=64)
    priority: int = Field(default=0, ge=0, le=9)


def _job_dict(job: Job, case_id: int | None) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "stage": job.stage,
        "progress": job.progress,
        "error": job.error,
        "attempts": job.attempts,
        "source": job.source_kind,
        "case": case_id,
        "created": job.created.isoformat(),
    }


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return not roots or any(path == r.resolve() or r.resolve() in path.parents for r in roots)


@router.post("/jobs", tags=["jobs"], status_code=202)
def submit_folder(body: FolderJob, request: Request, who: Submitter) -> dict[str, Any]:
    """Analyze the studies in a server folder (idempotent per set of studies)."""
    settings = request.app.state.settings
    folder = Path(body.folder).resolve()
    fhir = Path(body.fhir).resolve() if body.fhir else None
    for path in (folder, *([fhir] if fhir else [])):
        if not _inside(path, settings.roots) or settings.data.resolve() in [path, *path.parents]:
            raise HTTPException(403, "that folder is outside the folders jobs may read")
    if not folder.is_dir():
        raise HTTPException(422, "no such folder on the server")
    if fhir is not None and not fhir.is_file():
        raise HTTPException(422, "no such FHIR file on the server")
    uids = folder_uids([folder])
    source = {"paths": [str(folder)], "fhir": str(fhir) if fhir else None}
    done = submit(_store(request), "folder", source, uids, (who.user_id, who.name), body.priority)
    _wake(request)
    return {"job": done.job_id, "created": done.created, "status": done.status}


@router.post("/jobs/pacs", tags=["jobs"], status_code=202)
def submit_pacs(body: PacsJob, request: Request, who: Submitter) -> dict[str, Any]:
    """Analyze studies on a PACS by StudyInstanceUID (through its registered gateway)."""
    for uid in body.study_instance_uids:
        if len(uid) > 64 or not _UID.match(uid):
            raise HTTPException(422, "a StudyInstanceUID is digits and dots, at most 64")
    if urlsplit(body.url).username or urlsplit(body.url).password:
        raise HTTPException(422, "PACS credentials belong to the server's settings, not the URL")
    request.app.state.gateways.for_url(body.url)
    source = {"url": body.url, "study_instance_uids": sorted(set(body.study_instance_uids))}
    done = submit(
        _store(request), "pacs", source, body.study_instance_uids, (who.user_id, who.name),
        body.priority,
    )  # fmt: skip
    _wake(request)
    return {"job": done.job_id, "created": done.created, "status": done.status}


async def _save_uploads(files: list[UploadFile], folder: Path, limit: int) -> None:
    total = 0
    for upload in files:
        name = Path(upload.filename or "").name
        if name != (upload.filename or "") or not _UPLOAD_NAME.match(name):
            raise HTTPException(400, "an upload name is not a plain file name")
        target = folder / name
        if target.exists():
            raise HTTPException(400, "two uploads share a name")
        with target.open("xb") as handle:
            while chunk := await upload.read(1 << 20):
                total += len(chunk)
                if total > limit:
                    raise HTTPException(413, f"the upload is larger than {limit} bytes")
                handle.write(chunk)
        if not is_dicom_file(target):
            raise HTTPException(415, "an uploaded file is not a DICOM file")


@router.post("/jobs/upload", tags=["jobs"], status_code=202)
async def submit_upload(
    request: Request, files: list[UploadFile], who: Submitter, priority: int = 0
) -> dict[str, Any]:
    """Analyze uploaded DICOM files (plain names, DICOM Part 10 only, size-limited)."""
    settings = request.app.state.settings
    declared = int(request.headers.get("content-length") or 0)
    if declared > settings.max_upload_bytes:
        raise HTTPException(413, f"the upload is larger than {settings.max_upload_bytes} bytes")
    if not files:
        raise HTTPException(422, "no files")
    folder = settings.uploads / secrets.token_hex(8)
    folder.mkdir(parents=True)
    try:
        await _save_uploads(files, folder, settings.max_upload_bytes)
        uids = await run_in_threadpool(folder_uids, [folder])
    except (HTTPException, RadcycleError):
        shutil.rmtree(folder, ignore_errors=True)
        raise
    source = {"paths": [str(folder)], "fhir": None}
    done = await run_in_threadpool(
        submit, _store(request), "upload", source, uids, (who.user_id, who.name), priority
    )
    if not done.created:
        shutil.rmtree(folder, ignore_errors=True)
    _wake(request)
    return {"job": done.job_id, "created": done.created, "status": done.status}


def _wake(request: Request) -> None:
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()


@router.get("/jobs", tags=["jobs"])
def list_jobs(request: Request, who: Reader) -> list[dict[str, Any]]:
    with _store(request).session() as session:
        rows = session.execute(
            select(Job, Case.id).outerjoin(Case, Case.job_id == Job.id).order_by(Job.id.desc())
        ).all()
        return [_job_dict(job, case_id) for job, case_id in rows]


@router.get("/jobs/{job_id}", tags=["jobs"])
def get_job(job_id: int, request: Request, who: Reader) -> dict[str, Any]:
    with _store(request).session() as session:
        row = session.execute(
            select(Job, Case.id).outerjoin(Case, Case.job_id == Job.id).where(Job.id == job_id)
        ).first()
        if row is None:
            raise HTTPException(404, "no such job")
        return _job_dict(row[0], row[1])


# --- cases ----------------------------------------------------------------------------


_PENDING = (
    select(Lesion.case_id, func.count().label("n"))
    .where(Lesion.decision == "pending")
    .group_by(Lesion.case_id)
    .subquery()
)
# Built once, selecting columns (no ORM objects): the worklist is the most frequent read.
_WORKLIST = (
    select(
        Case.id,
        Patient.patient_key,
        Case.status,
        Case.priority,
        Case.created,
        Case.current_version,
        _PENDING.c.n,
    )
    .join(Patient, Patient.id == Case.patient_id)
    .outerjoin(_PENDING, _PENDING.c.case_id == Case.id)
    .order_by(Case.priority.desc(), Case.created)
)
_CURRENT_VERSION = select(Case.current_version).where(Case.id == bindparam("case"))


def worklist(connection: Any) -> list[dict[str, Any]]:
    """The cases, most urgent first: status, priority, age, lesions to decide."""
    return [
        {
            "id": case_id,
            "patient": key,
            "status": status,
            "priority": priority,
            "created": created.isoformat(),
            "version": version,
            "pending_lesions": int(n or 0),
        }
        for case_id, key, status, priority, created, version, n in connection.execute(_WORKLIST)
    ]


def _worklist_json(store: Store) -> bytes:
    with store.engine.connect() as connection:
        return json.dumps(worklist(connection), separators=(",", ":")).encode()


@router.get("/cases", tags=["cases"], response_model=list[dict[str, Any]])
async def list_cases(request: Request, who: Reader) -> Response:
    body = await read(_store(request), _worklist_json, _store(request))
    return Response(body, media_type="application/json")


def case_detail(session: Any, case_id: int) -> dict[str, Any]:
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, "no such case")
    version = cases.current(session, case)
    lesions = session.scalars(select(Lesion).where(Lesion.case_id == case.id)).all()
    studies = session.scalars(
        select(Study).where(Study.patient_id == case.patient_id).order_by(Study.study_date)
    ).all()
    return {
        "id": case.id,
        "status": case.status,
        "priority": case.priority,
        "version": version.number,
        "version_status": version.status,
        "studies": [{"uid": s.study_instance_uid, "date": s.study_date} for s in studies],
        "lesions": [
            {
                "tracking_uid": r.tracking_uid,
                "tracking_identifier": r.tracking_identifier,
                "first_timepoint": r.first_timepoint,
                "new": r.is_new,
                "decision": r.decision,
            }
            for r in lesions
        ],
        "report": {"text": version.text, "document": version.document},
    }


def _case_json(request: Request, case_id: int) -> bytes:
    cache: dict[tuple[int, int], bytes] = request.app.state.case_json
    store = _store(request)
    with store.engine.connect() as connection:
        version = connection.execute(_CURRENT_VERSION, {"case": case_id}).scalar()
    if version is None:
        raise HTTPException(404, "no such case")
    # Every change to a case adds a version, so (case, version) names its content.
    body = cache.get((case_id, version))
    if body is not None:
        return body
    with store.session() as session:
        detail = case_detail(session, case_id)
    body = json.dumps(detail, separators=(",", ":")).encode()
    if detail["version"] == version:
        with request.app.state.case_json_lock:
            if len(cache) >= 64:
                cache.pop(next(iter(cache)))
            cache[(case_id, version)] = body
    return body


@router.get("/cases/{case_id}", tags=["cases"], response_model=dict[str, Any])
async def get_case(case_id: int, request: Request, who: Reader) -> Response:
    body = await read(_store(request), _case_json, request, case_id)
    return Response(body, media_type="application/json")


@router.get("/cases/{case_id}/versions", tags=["cases"])
def list_versions(case_id: int, request: Request, who: Reader) -> list[dict[str, Any]]:
    with _store(request).session() as session:
        rows = session.scalars(
            select(ReportVersion)
            .where(ReportVersion.case_id == case_id)
            .order_by(ReportVersion.number)
        ).all()
        return [
            {"number": v.number, "status": v.status, "created": v.created.isoformat()} for v in rows
        ]


def _case_row(request: Request, case_id: int) -> Case:
    with _store(request).session() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise HTTPException(404, "no such case")
        session.expunge(case)
        return case


@router.get("/cases/{case_id}/slices/{t}/{k}.png", tags=["images"])
def get_slice(
    case_id: int, t: int, k: int, request: Request, who: Reader, window: str = "lung"
) -> Response:
    """Axial slice ``k`` of time point ``t``, in a window (lung, mediastinum, bone)."""
    if window not in WINDOWS:
        raise HTTPException(422, f"window is one of {', '.join(WINDOWS)}")
    analysis = _cache(request).get(_case_row(request, case_id))
    return Response(slice_png(analysis, t, k, window), media_type="image/png")


@router.get("/cases/{case_id}/layout", tags=["images"])
def get_layout(case_id: int, request: Request, who: Reader) -> dict[str, Any]:
    """Time points (slices each) and each lesion's slice per time point."""
    analysis = _cache(request).get(_case_row(request, case_id))
    return {
        "timepoints": [
            {"t": t, "date": s.exam_date.isoformat(), "slices": int(s.volume.array.shape[0])}
            for t, s in enumerate(analysis.follow.scans)
        ],
        "lesions": {
            uid: {str(t): k for t, k in where.items()}
            for uid, where in lesion_slices(analysis).items()
        },
    }


@router.get("/cases/{case_id}/evidence/{tracking_uid}/{t}.png", tags=["images"])
def get_evidence(
    case_id: int, tracking_uid: str, t: int, request: Request, who: Reader
) -> Response:
    """A lesion's key image at time point ``t``: slice, outline, long and short axes."""
    analysis = _cache(request).get(_case_row(request, case_id))
    return Response(evidence_png(analysis, tracking_uid, t), media_type="image/png")


@router.get("/cases/{case_id}/charts/{name}.png", tags=["images"])
def get_chart(case_id: int, name: str, request: Request, who: Reader) -> Response:
    if name not in {"trajectories", "waterfall"}:
        raise HTTPException(404, "no such chart")
    path = Path(_case_row(request, case_id).folder) / f"{name}.png"
    if not path.is_file():
        raise HTTPException(404, "no such chart")
    return Response(path.read_bytes(), media_type="image/png")


class DecisionBody(BaseModel):
    decision: str
    version: int


class EditBody(BaseModel):
    text: str = Field(max_length=100_000)
    version: int


class VersionBody(BaseModel):
    version: int


def _review(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except cases.NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except (cases.ConflictError, cases.RefusedError) as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post("/cases/{case_id}/lesions/{tracking_uid}", tags=["review"])
def decide(
    case_id: int, tracking_uid: str, body: DecisionBody, request: Request, who: Radiologist
) -> dict[str, Any]:
    """Confirm or reject a lesion; the response and draft are recomputed without rejected
    lesions and unconfirmed new ones."""
    store, cache = _store(request), _cache(request)
    number = _review(
        lambda: cases.decide(store, cache, case_id, tracking_uid, body.decision, body.version, who)
    )
    return {"version": number}


@router.put("/cases/{case_id}/report", tags=["review"])
def edit(case_id: int, body: EditBody, request: Request, who: Radiologist) -> dict[str, Any]:
    """Replace the report text; each sentence is checked by the verifier."""
    number, verdicts = _review(
        lambda: cases.edit(_store(request), case_id, body.text, body.version, who)
    )
    return {"version": number, "verdicts": verdicts}


@router.post("/cases/{case_id}/sign", tags=["review"])
def sign(case_id: int, body: VersionBody, request: Request, who: Radiologist) -> dict[str, Any]:
    """Sign the current version: frozen, with the final SR, SEG and FHIR written."""
    store, cache = _store(request), _cache(request)
    number = _review(lambda: cases.sign(store, cache, case_id, body.version, who))
    return {"version": number}


@router.post("/cases/{case_id}/amend", tags=["review"])
def amend(case_id: int, body: VersionBody, request: Request, who: Radiologist) -> dict[str, Any]:
    number = _review(lambda: cases.amend(_store(request), case_id, body.version, who))
    return {"version": number}


class PushBody(BaseModel):
    url: str | None = Field(default=None, max_length=2048)


@router.post("/cases/{case_id}/push", tags=["pacs"])
def push(case_id: int, body: PushBody, request: Request, who: Radiologist) -> dict[str, Any]:
    """Send the signed SR and SEG to a PACS (the job's own by default) and check them there."""
    store = _store(request)
    with store.session() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise HTTPException(404, "no such case")
        version = cases.current(session, case)
        job = session.get(Job, case.job_id)
        if version.signed_folder is None:
            raise HTTPException(409, "only a signed report is sent to the PACS")
        url = body.url or (job.source.get("url") if job is not None else None)
        folder = Path(version.signed_folder)
    if not url:
        raise HTTPException(422, "no PACS URL (the case did not come from one)")
    gateway = request.app.state.gateways.for_url(url)
    files = sorted([*folder.glob("sr_*.dcm"), *folder.glob("seg_*.dcm")])
    stored = gateway.store(url, files)
    with store.session() as session:
        audit.append(
            session, who.name, "case.push", f"case {case_id}",
            {"version": version.number, "instances": len(stored)},
        )  # fmt: skip
    return {"version": version.number, "stored": stored}


@router.get("/feedback.json", tags=["feedback"])
def feedback_json(request: Request, who: Radiologist) -> list[dict[str, Any]]:
    """AI draft vs signed text and every confirm/reject, per case."""
    with _store(request).session() as session:
        return cases.feedback(session)


@router.get("/feedback.csv", tags=["feedback"])
def feedback_csv(request: Request, who: Radiologist) -> PlainTextResponse:
    with _store(request).session() as session:
        text = cases.feedback_csv(cases.feedback(session))
    return PlainTextResponse(text, media_type="text/csv")


@router.get("/audit/verify", tags=["audit"])
def audit_verify(request: Request, who: Admin) -> dict[str, Any]:
    with _store(request).session() as session:
        return audit.verify_chain(session).to_dict()
