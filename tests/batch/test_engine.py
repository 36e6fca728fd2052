"""The engine on a local pool: every item once, failures recorded, resumable after kills."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from radcycle.batch import BatchSpec, Item, LocalPool, WorkerLostError, run_batch
from radcycle.batch.manifest import open_manifest
from radcycle.errors import InputError
from tests.batch.tasks import runs, write_task

PROJECT = Path(__file__).resolve().parents[2]


def _spec(tmp: Path, payloads: list[dict[str, Any]], **extra: Any) -> BatchSpec:
    items = [Item(p["name"], p) for p in payloads]
    params = {"command": "test", "out": str(tmp / "out"), "log": str(tmp / "log")}
    return BatchSpec(write_task, items, params, tmp / "run", tmp / "out", **extra)


def _payloads(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": f"i{k:02d}", "text": f"item {k}", **extra} for k in range(n)]


def test_every_item_done_once_and_rerun_skips(tmp_path: Path) -> None:
    spec = _spec(tmp_path, _payloads(6))
    report = run_batch(spec, LocalPool(2))
    assert (report.done, report.failed, report.skipped) == (6, 0, 0)
    assert report.max_in_flight <= 2
    assert report.peak_worker_rss_mb > 0
    assert (tmp_path / "out" / "i03.txt").read_text() == "item 3"
    again = run_batch(spec, LocalPool(2))
    assert (again.done, again.skipped) == (0, 6)
    assert set(runs(tmp_path / "log").values()) == {1}


def test_failures_recorded_then_retried_on_rerun(tmp_path: Path) -> None:
    payloads = _payloads(4)
    payloads[1]["fail"] = True
    report = run_batch(_spec(tmp_path, payloads), LocalPool(1))
    assert (report.done, report.failed) == (3, 1)
    assert report.failed_by_reason() == {"InputError": 1}
    assert "planted failure" in report.failures[0]["error"]
    again = run_batch(_spec(tmp_path, payloads), LocalPool(1))
    assert (again.done, again.failed, again.skipped) == (0, 1, 3)
    assert runs(tmp_path / "log") == {"i00": 1, "i01": 2, "i02": 1, "i03": 1}


def test_killed_worker_its_items_run_again_exactly_once(tmp_path: Path) -> None:
    payloads = _payloads(6, sleep=0.05)
    payloads[2]["kill"] = "once"
    report = run_batch(_spec(tmp_path, payloads), LocalPool(2))
    assert (report.done, report.failed) == (6, 0)
    assert report.worker_lost == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"i{k:02d}.txt" for k in range(6)
    ]
    with open_manifest(tmp_path / "run") as manifest:
        states = {s.key: s for s in manifest.states()}
    assert states["i02"].attempts == 2
    assert all(s.status == "done" for s in states.values())


def test_submit_to_a_pool_broken_since_the_last_wait_reports_the_item_lost(
    tmp_path: Path,
) -> None:
    pool = LocalPool(1)
    spec = _spec(tmp_path, [])
    args = (spec.params, str(tmp_path / "out"))
    try:
        dying = pool.submit(write_task, 0, {"name": "a", "text": "", "kill": "always"}, *args)
        while not pool.wait([dying], timeout=5.0):
            pass
        late = pool.submit(write_task, 1, {"name": "b", "text": "b"}, *args)
        assert pool.wait([late], timeout=0) == [late]
        with pytest.raises(WorkerLostError):
            pool.result(late)
    finally:
        pool.close()


def test_item_that_always_kills_its_worker_fails_after_the_limit(tmp_path: Path) -> None:
    payloads = _payloads(3)
    payloads[0]["kill"] = "always"
    report = run_batch(_spec(tmp_path, payloads, max_attempts=2), LocalPool(1))
    assert (report.done, report.failed) == (2, 1)
    assert report.failed_by_reason() == {"WorkerLost": 1}


def test_changed_items_or_parameters_are_refused(tmp_path: Path) -> None:
    run_batch(_spec(tmp_path, _payloads(2)), LocalPool(1))
    with pytest.raises(InputError, match="other items"):
        run_batch(_spec(tmp_path, _payloads(3)), LocalPool(1))


def test_done_item_whose_output_vanished_runs_again(tmp_path: Path) -> None:
    spec = _spec(tmp_path, _payloads(3))
    run_batch(spec, LocalPool(1))
    (tmp_path / "out" / "i01.txt").unlink()
    report = run_batch(spec, LocalPool(1))
    assert (report.done, report.skipped) == (1, 2)
    assert (tmp_path / "out" / "i01.txt").read_text() == "item 1"


_DRIVER = """
import sys
from pathlib import Path
from radcycle.batch import LocalPool, run_batch
from tests.batch.test_engine import _payloads, _spec
run_batch(_spec(Path(sys.argv[1]), _payloads(12, sleep=0.3)), LocalPool(2))
"""


def _done(run: Path) -> int:
    try:
        with sqlite3.connect(run / "manifest.sqlite") as db:
            return int(db.execute("SELECT COUNT(*) FROM items WHERE status='done'").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_driver_killed_mid_run_resumes_without_duplicates(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    code = textwrap.dedent(_DRIVER)
    driver = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], env=env)
    try:
        deadline = time.monotonic() + 60
        while _done(tmp_path / "run") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(driver.pid, signal.SIGKILL)
    finally:
        driver.wait(timeout=30)
    done_before = _done(tmp_path / "run")
    assert 2 <= done_before < 12
    report = run_batch(_spec(tmp_path, _payloads(12, sleep=0.3)), LocalPool(2))
    assert report.skipped == done_before
    assert report.done + report.skipped == 12
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".txt")
    assert outputs == [f"i{k:02d}.txt" for k in range(12)]
    assert all((tmp_path / "out" / n).read_text() == f"item {int(n[1:3])}" for n in outputs)
    # Done items never ran again; only the ones in flight at the kill ran twice.
    counts = runs(tmp_path / "log")
    assert sum(1 for c in counts.values() if c > 1) <= 2
