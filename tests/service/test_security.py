"""Refusals: each with the right status and nothing stored.

No or expired token, wrong role, a session that is not (or no longer) anyone's,
CSRF without token, path traversal in upload names, oversized and non-DICOM
uploads, the login rate limit; and every route checks a role.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import delete, func, select

from radcycle.service import api, ui
from radcycle.store.db import Store
from radcycle.store.models import AuditEntry, Job
from tests.service.conftest import PASSWORD, login

PUBLIC = {"/api/tokens", "/login", "/openapi.json"}


def _counts(client: httpx.Client) -> tuple[int, int]:
    store = _store_of(client)
    with store.session() as session:
        jobs = session.scalar(select(func.count()).select_from(Job)) or 0
        entries = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return jobs, entries


_STORES: dict[str, Store] = {}


def _store_of(client: httpx.Client) -> Store:
    return _STORES[str(client.base_url)]


@pytest.fixture
def client(make_client: Callable[..., httpx.Client], tmp_path: Path) -> httpx.Client:
    made = make_client(max_upload_bytes=200_000)
    url = f"sqlite:///{tmp_path / 'svc0.db'}"
    _STORES[str(made.base_url)] = Store.open(url)
    return made


def test_every_route_checks_a_role() -> None:
    routes = [r for r in (*api.router.routes, *ui.router.routes) if isinstance(r, APIRoute)]
    assert len(routes) > 20
    unguarded = []
    for route in routes:
        if route.path in PUBLIC:
            continue
        calls = [dep.call for dep in route.dependant.dependencies]
        if not any(hasattr(call, "admitted_roles") for call in calls):
            unguarded.append(route.path)
    assert unguarded == []
    assert {r.path for r in routes} >= PUBLIC - {"/openapi.json"}


def test_openapi_is_served(tmp_path: Path, make_client: Callable[..., httpx.Client]) -> None:
    client = make_client()
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/cases/{case_id}/sign" in paths
    assert "/login" not in paths


def test_no_or_bad_or_expired_token_is_401(client: httpx.Client, tmp_path: Path) -> None:
    before = _counts(client)
    assert client.get("/api/cases").status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert client.get("/api/cases", headers=bad).status_code == 401
    assert client.post("/api/jobs", json={"folder": str(tmp_path)}, headers=bad).status_code == 401
    store = _store_of(client)
    from radcycle.store.models import User
    from radcycle.store.users import new_secret

    with store.session() as session:
        user = session.scalar(select(User).where(User.name == "radiologist"))
        expired, _ = new_secret(session, user, "token", timedelta(seconds=-5))
    headers = {"Authorization": f"Bearer {expired}"}
    assert client.get("/api/cases", headers=headers).status_code == 401
    jobs, _ = _counts(client)
    assert jobs == before[0]


def test_wrong_role_is_403_and_nothing_is_stored(client: httpx.Client, tmp_path: Path) -> None:
    viewer = login(client, "viewer")
    before = _counts(client)
    reply = client.post("/api/jobs", json={"folder": str(tmp_path)}, headers=viewer)
    assert reply.status_code == 403
    technologist = login(client, "technologist")
    for path, body in [
        ("/api/cases/1/sign", {"version": 1}),
        ("/api/cases/1/amend", {"version": 1}),
        ("/api/cases/1/lesions/1.2.3", {"decision": "rejected", "version": 1}),
    ]:
        assert client.post(path, json=body, headers=technologist).status_code == 403
    assert client.put("/api/cases/1/report", json={"text": "x", "version": 1},
                      headers=technologist).status_code == 403  # fmt: skip
    assert client.get("/api/audit/verify", headers=login(client, "radiologist")).status_code == 403
    assert client.get("/api/audit/verify", headers=login(client, "admin")).json()["ok"]
    assert _counts(client)[0] == before[0]


def _ui_login(client: httpx.Client, name: str) -> str:
    reply = client.post("/login", data={"name": name, "password": PASSWORD})
    assert reply.status_code == 303, reply.text
    cookie = reply.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    return str(reply.cookies["radcycle_session"])


def test_sessions_csrf_and_logout(client: httpx.Client, tmp_path: Path) -> None:
    secret = _ui_login(client, "radiologist")
    client.cookies.clear()
    cookies = {"Cookie": f"radcycle_session={secret}"}
    page = client.get("/", headers=cookies)
    assert page.status_code == 200
    assert "Worklist" in page.text
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    before = _counts(client)
    # a state change with the cookie but without (or with another) CSRF token: 403
    reply = client.post("/api/jobs", json={"folder": str(tmp_path)}, headers=cookies)
    assert reply.status_code == 403
    assert "CSRF" in reply.text
    reply = client.post("/logout", data={"csrf_token": "forged"}, headers=cookies)
    assert reply.status_code == 403
    assert _counts(client) == before
    # another user's token does not make this session valid: a forged cookie is 303 to login
    assert (
        client.get("/", headers={"Cookie": f"radcycle_session={secret[:-2]}xx"}).status_code == 303
    )
    assert client.get("/api/cases", headers={"Cookie": "radcycle_session=x"}).status_code == 401
    # logout with the token ends the session; the old cookie is then refused
    assert client.post("/logout", data={"csrf_token": csrf}, headers=cookies).status_code == 303
    assert client.get("/api/cases", headers=cookies).status_code == 401


def test_login_is_rate_limited(client: httpx.Client) -> None:
    for _ in range(5):
        reply = client.post("/api/tokens", json={"name": "viewer", "password": "wrong guess"})
        assert reply.status_code == 401
    # now even the right password is refused for a while
    reply = client.post("/api/tokens", json={"name": "viewer", "password": PASSWORD})
    assert reply.status_code == 429
    ui = client.post("/login", data={"name": "viewer", "password": PASSWORD})
    assert ui.status_code == 429
    # other users are not locked out
    assert (
        client.post("/api/tokens", json={"name": "admin", "password": PASSWORD}).status_code == 200
    )


def _uploads(client: httpx.Client) -> list[Path]:
    root = Path(str(_store_of(client).url).removeprefix("sqlite:///")).parent / "data0" / "uploads"
    return list(root.iterdir())


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("../../etc/evil.dcm", b"\0" * 128 + b"DICM", 400),
        ("..", b"\0" * 128 + b"DICM", 400),
        ("sub/dir.dcm", b"\0" * 128 + b"DICM", 400),
        ("notes.txt", b"just text, no DICOM", 415),
        ("big.dcm", b"\0" * 128 + b"DICM" + b"\0" * 300_000, 413),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_kept(
    client: httpx.Client, name: str, content: bytes, status: int
) -> None:
    headers = login(client, "technologist")
    before = _counts(client)
    reply = client.post("/api/jobs/upload", files=[("files", (name, content))], headers=headers)
    assert reply.status_code == status, reply.text
    assert _uploads(client) == []
    assert _counts(client)[0] == before[0]


def test_folder_jobs_stay_inside_the_allowed_roots(
    make_client: Callable[..., httpx.Client], tmp_path: Path
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    client = make_client(roots=(allowed,))
    headers = login(client, "technologist")
    for folder in ("/etc", str(allowed / ".." / "data0"), str(tmp_path)):
        assert client.post("/api/jobs", json={"folder": folder}, headers=headers).status_code == 403


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def test_security_headers_are_on_every_response(client: httpx.Client) -> None:
    replies = {
        "static file": client.get("/static/app.css"),
        "api": client.get("/api/me", headers=login(client, "viewer")),
        "no credential": client.get("/api/cases"),
        "no such case": client.get("/api/cases/999", headers=login(client, "viewer")),
        "no such page": client.get("/nowhere"),
        "login page": client.get("/login"),
        "redirect to login": client.get("/"),
        "bad input": client.post("/api/tokens", json={"name": 3}),
    }
    statuses = {name: reply.status_code for name, reply in replies.items()}
    assert statuses == {
        "static file": 200,
        "api": 200,
        "no credential": 401,
        "no such case": 404,
        "no such page": 404,
        "login page": 200,
        "redirect to login": 303,
        "bad input": 422,
    }
    for name, reply in replies.items():
        for header, value in SECURITY_HEADERS.items():
            assert reply.headers.get_list(header) == [value], (name, header)
        assert "frame-ancestors 'none'" in reply.headers["content-security-policy"], name


def test_a_header_the_response_sets_itself_is_kept() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from radcycle.service.app import SecurityHeaders

    def cached(request: object) -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Cache-Control": "max-age=60"})

    app = SecurityHeaders(Starlette(routes=[Route("/", cached)]))

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as test:
            return await test.get("/")

    reply = asyncio.run(get())
    assert reply.headers.get_list("cache-control") == ["max-age=60"]
    assert reply.headers["x-frame-options"] == "DENY"


def test_revocation_takes_effect_on_the_next_request(client: httpx.Client) -> None:
    """Credentials are checked against the database on every request (no cache)."""
    from sqlalchemy import update

    from radcycle.store.models import ApiToken, User

    headers = login(client, "radiologist2")
    assert client.get("/api/me", headers=headers).json()["role"] == "radiologist"
    store = _store_of(client)
    with store.session() as session:
        session.execute(update(User).where(User.name == "radiologist2").values(role="viewer"))
    assert client.get("/api/me", headers=headers).json()["role"] == "viewer"
    reply = client.post("/api/cases/1/sign", json={"version": 1}, headers=headers)
    assert reply.status_code == 403
    with store.session() as session:
        session.execute(update(User).where(User.name == "radiologist2").values(active=False))
    assert client.get("/api/cases", headers=headers).status_code == 401
    with store.session() as session:
        session.execute(update(User).where(User.name == "radiologist2").values(active=True))
    assert client.get("/api/cases", headers=headers).status_code == 200
    with store.session() as session:
        session.execute(delete(ApiToken))
    assert client.get("/api/cases", headers=headers).status_code == 401
