"""The same tasks on a real Ray cluster on loopback: a head and a second node joining it.

The fixture starts both with ``ray start --block`` in their own process groups and
stops those groups in teardown. Where a cluster cannot start in time, the tests
run on Ray's private local instance instead, and the test's ``ray_mode`` property
says so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radcycle.batch import BatchSpec, Item, RayPool, run_batch
from radcycle.cli.main import build_app
from tests.batch.tasks import runs, write_task

pytestmark = pytest.mark.service
ray = pytest.importorskip("ray")

PROJECT = Path(__file__).resolve().parents[2]
START_SECONDS = 90


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(args: list[str], temp: Path, log: Path) -> subprocess.Popen[bytes]:
    ray_cli = Path(sys.executable).parent / "ray"
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "RAY_USAGE_STATS_ENABLED": "0"}
    argv = [str(ray_cli), "start", "--block", "--node-ip-address", "127.0.0.1", *args]
    argv += ["--num-cpus", "1", "--disable-usage-stats", "--temp-dir", str(temp)]
    with log.open("ab") as sink:
        return subprocess.Popen(
            argv, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            time.sleep(0.5)  # the group's other processes go with their leader
        except subprocess.TimeoutExpired:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return


def _alive_nodes(address: str, wanted: int) -> bool:
    deadline = time.monotonic() + START_SECONDS
    pool = RayPool(address)  # connects the way the engine does, or fails
    try:
        while time.monotonic() < deadline:
            if sum(1 for n in ray.nodes() if n["Alive"]) >= wanted:
                return True
            time.sleep(0.5)
        return False
    finally:
        pool.close()


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a two-node cluster, or ``local`` where it cannot start."""
    temp = Path(tempfile.mkdtemp(prefix="rcray-"))  # short: Ray's socket paths are limited
    port = _free_port()
    address = f"127.0.0.1:{port}"
    head_args = ["--head", "--port", str(port), "--include-dashboard", "false"]
    head = _start(head_args, temp, temp / "head.log")
    node = _start(["--address", address], temp, temp / "node.log")
    try:
        try:
            started = _alive_nodes(address, 2)
        except Exception:  # a cluster that cannot start: Ray's local instance instead
            started = False
        yield address if started else "local"
    finally:
        _stop(node)
        _stop(head)
        shutil.rmtree(temp, ignore_errors=True)


def test_radiomics_on_ray_same_bytes_as_local_pool(
    ray_address: str, cohort: Path, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    record_property("ray_mode", "local instance" if ray_address == "local" else "cluster")
    tables = {}
    for name, executor in (("local", ["--workers", "1"]), ("ray", ["--ray", ray_address])):
        out = tmp_path / f"{name}.parquet"
        argv = ["batch", "radiomics", str(cohort / "cases.csv"), "--out", str(out), *executor]
        result = CliRunner().invoke(build_app(argv), argv)
        assert result.exit_code == 1, result.output  # the three bad rows
        tables[name] = out.read_bytes()
    assert tables["ray"] == tables["local"]


def test_killed_ray_worker_item_runs_again_once(ray_address: str, tmp_path: Path) -> None:
    payloads = [{"name": f"i{k}", "text": f"item {k}"} for k in range(4)]
    payloads[1]["kill"] = "once"
    items = [Item(p["name"], p) for p in payloads]
    params = {"command": "test", "out": str(tmp_path / "out"), "log": str(tmp_path / "log")}
    spec = BatchSpec(write_task, items, params, tmp_path / "run", tmp_path / "out")
    report = run_batch(spec, RayPool(ray_address))
    assert (report.done, report.failed, report.worker_lost) == (4, 0, 1)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"i{k}.txt" for k in range(4)]
    assert runs(tmp_path / "log") == {"i0": 1, "i1": 2, "i2": 1, "i3": 1}
