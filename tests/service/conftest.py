"""Fixtures of the review service tests: a real PostgreSQL on a unix socket, users, apps.

PostgreSQL: a fresh cluster in a temp folder (``initdb``), listening on no TCP
address at all (``listen_addresses=''``), only on a unix socket in that folder;
stopped at the end of the session. Run as the ``postgres`` user when the tests
run as root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from radcycle.service.app import create_app
from radcycle.service.gateways import GatewayRegistry
from radcycle.service.settings import ServiceSettings
from radcycle.store.db import Store, upgrade
from radcycle.store.users import add_user
from radcycle.synth import generate_patient, write_patient

PASSWORD = "correct horse battery"
ROLES = ("viewer", "technologist", "radiologist", "admin")


def _pg_bin() -> Path | None:
    base = Path("/usr/lib/postgresql")
    found = sorted(base.glob("*/bin/initdb")) if base.is_dir() else []
    return found[-1].parent if found else None


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database on a unix socket in a temp folder, for this test session."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (scripts/install-system-packages.sh)")
    root = Path(tempfile.mkdtemp(prefix="radcycle-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    run = lambda args: subprocess.run(  # noqa: E731
        _as_postgres(args), check=True, capture_output=True, text=True, timeout=120
    )
    run([str(bindir / "initdb"), "-D", str(data), "-U", "radcycle", "--auth=trust", "-E", "UTF8"])
    options = f"-c listen_addresses='' -c unix_socket_directories={sock} -c fsync=off"
    run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-t", "60", "start",
         "-l", str(root / "log")])  # fmt: skip
    try:
        run([str(bindir / "createdb"), "-h", str(sock), "-U", "radcycle", "radcycle"])
        yield f"postgresql+psycopg://radcycle@/radcycle?host={sock}"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def fresh_postgres(url: str, name: str) -> str:
    """A new empty database beside ``url``'s (one per test that needs a clean store)."""
    store = Store.open(url)
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    store.close()
    return url.replace("/radcycle?", f"/{name}?")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    base = request.getfixturevalue("postgres_url")
    return fresh_postgres(base, f"t_{abs(hash(request.node.nodeid)) % 10**9}")


def add_users(url: str) -> None:
    store = Store.open(url)
    upgrade(store)
    with store.session() as session:
        for role in ROLES:
            add_user(session, role, role, PASSWORD)
        add_user(session, "radiologist2", "radiologist", PASSWORD)
    store.close()


def login(client: httpx.Client, name: str) -> dict[str, str]:
    """Bearer headers for ``name``."""
    reply = client.post("/api/tokens", json={"name": name, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['token']}"}


class Running:
    """A real uvicorn server on a loopback port, in a thread."""

    def __init__(self, settings: ServiceSettings, gateways: GatewayRegistry | None = None) -> None:
        self.settings = settings
        self.app = create_app(settings, gateways)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", access_log=False, ws="none"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.url, timeout=120, follow_redirects=False)

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., httpx.Client]]:
    """A running service (worker included) over a database, users added."""
    opened: list[Running] = []

    def make(url: str | None = None, **changes: object) -> httpx.Client:
        data = tmp_path / f"data{len(opened)}"
        url = url or f"sqlite:///{tmp_path / f'svc{len(opened)}.db'}"
        add_users(url)
        settings = ServiceSettings(data=data, database_url=url, **changes)  # type: ignore[arg-type]
        running = Running(settings)
        opened.append(running)
        return running.client

    yield make
    for running in opened:
        running.stop()


@pytest.fixture(scope="session")
def patient_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic patient: two CT studies and a FHIR record."""
    root = tmp_path_factory.mktemp("patient")
    return write_patient(generate_patient(2, timepoints=2, slices=40, matrix=192), root / "p")
