"""Review service under load: 50 concurrent clients for 30 s on loopback.

``radcycle serve`` runs as its own process over a SQLite store holding one real
case (a synthetic patient analysed by the service's worker). The client is
Debian's ``wrk`` where installed (C; it takes little of the cores the server
needs), else an asyncio httpx client; it keeps ``$RADCYCLE_BENCH_LOAD_CLIENTS``
(50) connections busy for ``$RADCYCLE_BENCH_LOAD_SECONDS`` (30) on the reads a
reading room makes most: the worklist (``GET /api/cases``) and a case with its
report (``GET /api/cases/{id}``), alternately, each with a bearer token (so every
request is authenticated and role-checked against the database). The baseline is a static
file of the same server (``/static/app.css``: no database, no auth), loaded the
same way, so the ratio is what the database and auth cost over the server's own
floor. Goal (issue 16): no errors, p99 under 200 ms on 2 cores; the client runs
on the same cores as the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.table import Table

from radcycle.store.db import Store, upgrade
from radcycle.store.users import add_user
from radcycle.synth import generate_patient, write_patient

CLIENTS = int(os.environ.get("RADCYCLE_BENCH_LOAD_CLIENTS", "50"))
SECONDS = float(os.environ.get("RADCYCLE_BENCH_LOAD_SECONDS", "30"))
PASSWORD = "load test password"
SERVE = "import sys; from radcycle.cli.main import main; sys.argv[0] = 'radcycle'; main()"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(data: Path) -> tuple[subprocess.Popen[str], str]:
    port = _port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--json", "--port", str(port), "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RADCYCLE_DATABASE_URL": ""},
        text=True,
    )
    assert process.stdout is not None
    url = str(json.loads(process.stdout.readline())["url"]).rstrip("/")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/me").status_code == 401:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("radcycle serve did not start")


def _prepare(url: str, patient: Path) -> tuple[dict[str, str], int]:
    with httpx.Client(base_url=url, timeout=600) as client:
        token = client.post("/api/tokens", json={"name": "load", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['token']}"}
        body = {"folder": str(patient), "fhir": str(patient / "fhir_bundle.json")}
        job = client.post("/api/jobs", json=body, headers=headers).json()["job"]
        while (state := client.get(f"/api/jobs/{job}", headers=headers).json())["status"] not in {
            "done",
            "failed",
        }:
            time.sleep(0.5)
        if state["status"] != "done":
            raise RuntimeError(f"the analysis failed: {state['error']}")
        return headers, int(state["case"])


async def _load(url: str, paths: list[str], headers: dict[str, str]) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + SECONDS
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def client_loop(client: httpx.AsyncClient, n: int) -> None:
        nonlocal errors
        i = n
        while time.monotonic() < stop:
            path = paths[i % len(paths)]
            i += 1
            start = time.perf_counter()
            try:
                reply = await client.get(path, headers=headers)
                ok = reply.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - start)
            errors += 0 if ok else 1

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        await asyncio.gather(*(client_loop(client, n) for n in range(CLIENTS)))
    ms = np.asarray(latencies) * 1000.0
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / SECONDS,
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
    }


_WRK_SCRIPT = """
local paths = {%s}
local i = 0
wrk.headers["Authorization"] = "%s"
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _wrk(url: str, paths: list[str], headers: dict[str, str], workdir: Path) -> dict[str, Any]:
    """The same load from wrk (C, two threads): the client takes little of the cores."""
    script = workdir / "paths.lua"
    listed = ", ".join(f'"{p}"' for p in paths)
    script.write_text(_WRK_SCRIPT % (listed, headers["Authorization"]))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CLIENTS}", f"-d{int(SECONDS)}s", "--timeout", "10s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=SECONDS + 60,
    ).stdout  # fmt: skip
    percent = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    if set(percent) != {"50", "99"}:
        raise RuntimeError(f"wrk gave no latency distribution:\n{out}")
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    return {
        "requests": total,
        "errors": errors,
        "rps": total / SECONDS,
        "p50": _ms(percent["50"]),
        "p99": _ms(percent["99"]),
    }


def _measure(url: str, paths: list[str], headers: dict[str, str], workdir: Path) -> dict[str, Any]:
    if shutil.which("wrk"):
        return _wrk(url, paths, headers, workdir)
    return asyncio.run(_load(url, paths, headers))


def run(workdir: Path) -> Table:
    patient = write_patient(
        generate_patient(2, timepoints=2, slices=40, matrix=192), workdir / "patient"
    )
    data = workdir / "data"
    data.mkdir()
    store = Store.open(f"sqlite:///{data / 'radcycle.db'}")
    upgrade(store)
    with store.session() as session:
        add_user(session, "load", "radiologist", PASSWORD)
    store.close()
    process, url = _start(data)
    try:
        headers, case = _prepare(url, patient)
        rows = {
            "static file (baseline)": _measure(url, ["/static/app.css"], headers, workdir),
            "worklist + case report": _measure(
                url, ["/api/cases", f"/api/cases/{case}"], headers, workdir
            ),
        }
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
    client = "wrk" if shutil.which("wrk") else "httpx (asyncio)"
    table = Table(
        title=f"service load: {CLIENTS} concurrent clients ({client}), {SECONDS:.0f} s each, "
        f"loopback, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"
    )
    for column in ("reads", "requests", "req/s", "p50 ms", "p99 ms", "errors",
                   "p99 / baseline p99", "goal: 0 errors, p99 < 200 ms"):  # fmt: skip
        table.add_column(column)
    base = rows["static file (baseline)"]["p99"]
    for name, r in rows.items():
        goal = "met" if r["errors"] == 0 and r["p99"] < 200 else "NOT met"
        table.add_row(
            name,
            str(r["requests"]),
            f"{r['rps']:.0f}",
            f"{r['p50']:.1f}",
            f"{r['p99']:.1f}",
            str(r["errors"]),
            f"{r['p99'] / base:.2f}",
            goal,
        )
    return table


if __name__ == "__main__":
    from rich.console import Console

    with tempfile.TemporaryDirectory() as tmp:
        Console().print(run(Path(tmp)))
