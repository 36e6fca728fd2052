"""Batch de-identification of an archive: files per second, 1 vs 2 workers.

``$RADCYCLE_BENCH_BATCH_DEID_FILES`` synthetic CT slices (default 20,000; 64x64, the
planted identifiers of ``bench_deid``) of ten patients, one folder per patient,
de-identified by ``radcycle batch deid`` (one item per patient folder) on 1 and 2
local workers, and by the single command ``radcycle deid`` on 2 workers as the
baseline. Each is the whole command in a fresh process, into a fresh output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.table import Table

from benchmarks.bench_deid import FAMILY, write_ct_slices
from radcycle.privacy.keys import generate_keyfile

FILES = int(os.environ.get("RADCYCLE_BENCH_BATCH_DEID_FILES", "20000"))


def _archive(workdir: Path) -> Path:
    """The slices, moved into one folder per patient (named after the planted family)."""
    flat = workdir / "flat"
    archive = workdir / "archive"
    for path in write_ct_slices(flat, FILES):
        patient = archive / path.name.split("_")[0]
        patient.mkdir(parents=True, exist_ok=True)
        path.rename(patient / path.name)
    return archive


def _time(argv: list[str]) -> tuple[float, dict[str, object]]:
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    report = json.loads(out.stdout) if out.stdout.lstrip().startswith("{") else {}
    return seconds, report


def run(workdir: Path) -> Table:
    """Time batch deid on 1 and 2 workers against the single command on 2."""
    archive = _archive(workdir)
    key = workdir / "key.bin"
    generate_keyfile(key)
    radcycle = str(Path(sys.executable).parent / "radcycle")
    rows = []
    single = [radcycle, "deid", str(archive), "--out", str(workdir / "single"), "--key", str(key)]
    seconds, _ = _time([*single, "--workers", "2"])
    rows.append(("radcycle deid (single command)", 2, seconds, None))
    for workers in (1, 2):
        out = workdir / f"batch-{workers}"
        argv = [radcycle, "batch", "deid", str(archive), "--out", str(out), "--key", str(key)]
        seconds, report = _time([*argv, "--workers", str(workers), "--json"])
        rows.append(("radcycle batch deid", workers, seconds, report.get("peak_worker_rss_mb")))
    baseline = rows[0][2]
    table = Table(title=f"batch deid: {FILES} files, {len(FAMILY)} patient folders")
    for column in ("command", "workers", "seconds", "files/s", "vs single (2 workers)"):
        table.add_column(column, justify="left" if column == "command" else "right")
    table.add_column("peak MiB/worker", justify="right")
    for name, workers, seconds, peak in rows:
        peak_text = "-" if peak is None else f"{float(str(peak)):.0f}"
        table.add_row(
            name,
            str(workers),
            f"{seconds:.1f}",
            f"{FILES / seconds:.0f}",
            f"{baseline / seconds:.2f}",
            peak_text,
        )
    return table
