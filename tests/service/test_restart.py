"""``kill -9`` of ``radcycle serve`` during a job and during a sign, then a restart.

The server runs as its own process (``radcycle serve --json``) on a loopback
port; it is killed with SIGKILL at a chosen moment. After the restart: the job
completes exactly once, every signed version has all its files and no files
are left that no version owns, and ``radcycle audit verify`` passes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from sqlalchemy import select

from radcycle.store.db import Store
from radcycle.store.models import Case, Job, ReportVersion
from tests.service.conftest import add_users, login
from tests.service.test_review import wait_job

pytestmark = [pytest.mark.slow, pytest.mark.service]

SERVE = "import sys; from radcycle.cli.main import main; sys.argv[0] = 'radcycle'; main()"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn_serve(data: Path) -> tuple[subprocess.Popen[str], str]:
    """``radcycle serve --json`` on a free loopback port; its process and URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--json", "--port", str(port),
         "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RADCYCLE_DATABASE_URL": ""},
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    first = json.loads(process.stdout.readline())
    assert first["url"] == f"http://127.0.0.1:{port}/"
    return process, str(first["url"])


class Server:
    """``radcycle serve`` in a child process."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.process, url = spawn_serve(data)
        self.client = httpx.Client(base_url=url, timeout=120)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.client.get("/api/me").status_code == 401:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("radcycle serve did not start")
            time.sleep(0.1)

    def kill9(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self._close()

    def _close(self) -> None:
        self.client.close()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._close()


def _audit(data: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", SERVE, "audit", "verify", "--json", "--data", str(data)],
        capture_output=True,
        text=True,
        env={**os.environ, "RADCYCLE_DATABASE_URL": ""},
        timeout=120,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    assert result.returncode == (0 if report["ok"] else 1)
    return report


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("restart") / "data"
    folder.mkdir()
    add_users(f"sqlite:///{folder / 'radcycle.db'}")
    return folder


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def _rows(data: Path) -> tuple[list[Job], list[Case], list[ReportVersion]]:
    store = Store.open(f"sqlite:///{data / 'radcycle.db'}")
    try:
        with store.session() as session:
            jobs = list(session.scalars(select(Job)))
            cases = list(session.scalars(select(Case)))
            versions = list(session.scalars(select(ReportVersion).order_by(ReportVersion.id)))
            return jobs, cases, versions
    finally:
        store.close()


def test_kill_during_a_job_then_restart(
    data: Path, patient_dir: Path, servers: list[Server]
) -> None:
    server = Server(data)
    servers.append(server)
    tech = login(server.client, "technologist")
    body = {"folder": str(patient_dir), "fhir": str(patient_dir / "fhir_bundle.json")}
    job = server.client.post("/api/jobs", json=body, headers=tech).json()["job"]
    deadline = time.monotonic() + 300
    while server.client.get(f"/api/jobs/{job}", headers=tech).json()["stage"] not in {
        "follow",
        "locate",
        "report",
        "write",
    }:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    server.kill9()
    jobs, cases, _ = _rows(data)
    assert [j.status for j in jobs] == ["running"]
    assert cases == []
    server = Server(data)
    servers.append(server)
    tech = login(server.client, "technologist")
    state = wait_job(server.client, tech, job)
    assert state["status"] == "done", state
    # the same studies again: the same job, no second case
    again = server.client.post("/api/jobs", json=body, headers=tech).json()
    assert again["job"] == job
    assert again["created"] is False
    jobs, cases, _ = _rows(data)
    assert len(jobs) == 1
    assert len(cases) == 1
    assert jobs[0].attempts == 2
    assert not list((data / "cases").glob(".job-*"))
    assert [p.name for p in (data / "cases").iterdir()] == [f"job-{job}"]
    assert _audit(data)["ok"]


def _check_signed_folders(data: Path) -> int:
    _, cases, versions = _rows(data)
    owned = {Path(v.signed_folder) for v in versions if v.signed_folder}
    signed = [v for v in versions if v.status in {"signed", "amended"}]
    for version in signed:
        folder = Path(version.signed_folder or "")
        names = {p.name for p in folder.iterdir()}
        assert {"report.txt", "report.json", "fhir.json"} <= names
        json.loads((folder / "report.json").read_text())
        for sr in folder.glob("sr_*.dcm"):
            assert pydicom.dcmread(sr).VerificationFlag == "VERIFIED"
    on_disk = {p for c in cases for p in Path(c.folder).glob("signed-v*")}
    assert on_disk == owned, (on_disk, owned)
    return len(signed)


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8, 1.5, 3.0])
def test_kill_during_a_sign_then_restart(
    delay: float, data: Path, servers: list[Server], patient_dir: Path
) -> None:
    server = Server(data)
    servers.append(server)
    if not _rows(data)[1]:  # run alone: the case comes from a job first
        tech = login(server.client, "technologist")
        body = {"folder": str(patient_dir), "fhir": str(patient_dir / "fhir_bundle.json")}
        reply = server.client.post("/api/jobs", json=body, headers=tech)
        wait_job(server.client, tech, reply.json()["job"])
    ana = login(server.client, "radiologist")
    case = server.client.get("/api/cases", headers=ana).json()[0]
    detail = server.client.get(f"/api/cases/{case['id']}", headers=ana).json()
    if detail["version_status"] in {"signed", "amended"}:
        reopened = server.client.post(
            f"/api/cases/{case['id']}/amend", json={"version": detail["version"]}, headers=ana
        )
        detail["version"] = reopened.json()["version"]
    before = _check_signed_folders(data)

    def sign() -> None:
        with contextlib.suppress(httpx.TransportError):
            server.client.post(
                f"/api/cases/{case['id']}/sign", json={"version": detail["version"]}, headers=ana
            )

    thread = threading.Thread(target=sign)
    thread.start()
    time.sleep(delay)
    server.kill9()
    thread.join(timeout=60)
    server = Server(data)  # the restart tidies what the killed sign left
    servers.append(server)
    after = _check_signed_folders(data)
    assert after in {before, before + 1}
    assert _audit(data)["ok"]
