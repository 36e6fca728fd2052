"""The web review UI: server-rendered Jinja templates with a little JavaScript.

Pages: login, worklist, case view (slices of each time point with lesion
outlines, window presets, lesions side by side, lesion table, charts, the draft
whose sentences open their evidence, confirm/reject, edit, sign, amend). Forms
post with the session's CSRF token; the templates escape everything they show
(Jinja autoescape), and the page's Content-Security-Policy allows only the
service's own script.
"""

from __future__ import annotations

from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from radcycle.service import cases
from radcycle.service.api import _cache, _store, case_detail, client_key, worklist
from radcycle.service.security import COOKIE, Principal, require
from radcycle.store import audit
from radcycle.store.models import Job
from radcycle.store.users import check_password, new_secret, revoke_session

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("viewer", "technologist", "radiologist"))]
Radiologist = Annotated[Principal, Depends(require("radiologist"))]
_env = jinja2.Environment(
    loader=jinja2.PackageLoader("radcycle.service", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _page("login.html", error=None, user=None)


@router.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    limiter = request.app.state.limiter
    key = client_key(request, name)
    if limiter.blocked(key):
        return _page(
            "login.html", 429, error="Too many failed logins; wait and try again.", user=None
        )
    settings = request.app.state.settings
    with _store(request).session() as session:
        user = check_password(session, name, password)
        if user is None:
            limiter.failed(key)
            audit.append(session, name[:64], "login.fail", "ui")
            secret = None
        else:
            limiter.succeeded(key)
            secret, _ = new_secret(session, user, "session", settings.session_lifetime)
            audit.append(session, user.name, "login", "ui")
    if secret is None:
        return _page("login.html", 401, error="Wrong user name or password.", user=None)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(settings.session_lifetime.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, who: Reader) -> Response:
    secret = request.cookies.get(COOKIE)
    with _store(request).session() as session:
        if secret:
            revoke_session(session, secret)
        audit.append(session, who.name, "logout", "ui")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def worklist_page(request: Request, who: Reader) -> HTMLResponse:
    with _store(request).session() as session:
        rows = worklist(session)
        jobs = session.scalars(
            select(Job).where(Job.status.in_(("queued", "running", "failed"))).order_by(Job.id)
        ).all()
        running = [
            {"id": j.id, "status": j.status, "stage": j.stage, "progress": j.progress,
             "error": j.error}
            for j in jobs
        ]  # fmt: skip
    return _page("worklist.html", cases=rows, jobs=running, user=who)


def _case_page(request: Request, who: Principal, case_id: int, message: str | None,
               status: int = 200, kept: str | None = None) -> HTMLResponse:  # fmt: skip
    with _store(request).session() as session:
        detail = case_detail(session, case_id)
    document = detail["report"]["document"]
    facts = {f["id"]: f for f in document.get("facts") or ()}
    dates = {s["date"]: t for t, s in enumerate(detail["studies"])}
    evidence = {}
    latest = max(dates.values(), default=None)
    for fid, fact in facts.items():
        if not fact.get("tracking_uid"):
            continue
        # a lesion fact without a date (its site, its kind) shows the latest study
        t = dates.get(fact.get("time_point") or "", latest)
        if t is not None:
            evidence[fid] = [fact["tracking_uid"], t]
    return _page(
        "case.html",
        status,
        case=detail,
        document=document,
        facts=facts,
        evidence=evidence,
        message=message,
        kept=kept,
        user=who,
        editable=detail["version_status"] not in {"signed", "amended"},
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: int, request: Request, who: Reader) -> HTMLResponse:
    return _case_page(request, who, case_id, None)


def _act(
    request: Request, who: Principal, case_id: int, call: Any, kept: str | None = None
) -> Response:
    try:
        call()
    except cases.NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except (cases.ConflictError, cases.RefusedError) as exc:
        return _case_page(request, who, case_id, str(exc), 409, kept)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/lesions/{tracking_uid}")
def decide_form(
    case_id: int,
    tracking_uid: str,
    request: Request,
    who: Radiologist,
    decision: Annotated[str, Form()],
    version: Annotated[int, Form()],
) -> Response:
    store, cache = _store(request), _cache(request)
    return _act(
        request, who, case_id,
        lambda: cases.decide(store, cache, case_id, tracking_uid, decision, version, who),
    )  # fmt: skip


@router.post("/cases/{case_id}/report")
def edit_form(
    case_id: int,
    request: Request,
    who: Radiologist,
    text: Annotated[str, Form(max_length=100_000)],
    version: Annotated[int, Form()],
) -> Response:
    store = _store(request)
    return _act(request, who, case_id, lambda: cases.edit(store, case_id, text, version, who), text)


@router.post("/cases/{case_id}/sign")
def sign_form(
    case_id: int, request: Request, who: Radiologist, version: Annotated[int, Form()]
) -> Response:
    store, cache = _store(request), _cache(request)
    return _act(request, who, case_id, lambda: cases.sign(store, cache, case_id, version, who))


@router.post("/cases/{case_id}/amend")
def amend_form(
    case_id: int, request: Request, who: Radiologist, version: Annotated[int, Form()]
) -> Response:
    store = _store(request)
    return _act(request, who, case_id, lambda: cases.amend(store, case_id, version, who))
