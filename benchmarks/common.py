"""Helpers shared by benchmarks: timing in a fresh process, peak memory, tables."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_mb: float | None = None
    note: str = ""


_CHILD = """
import json, resource, sys, time
setup, stmt, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
ns = {}
exec(setup, ns)
keep = set(ns)
best = float("inf")
for _ in range(repeat):
    t0 = time.perf_counter()
    exec(stmt, ns)
    best = min(best, time.perf_counter() - t0)
    for name in set(ns) - keep:  # free the result before the next repetition
        del ns[name]
# VmHWM is this program's own high-water mark (ru_maxrss would also count the
# parent's memory inherited across fork before exec).
try:
    with open("/proc/self/status") as fh:
        line = next(l for l in fh if l.startswith("VmHWM:"))
    peak = int(line.split()[1]) / 1024.0
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps({"seconds": best, "peak_mb": peak}))
"""


def measure_in_subprocess(name: str, setup: str, stmt: str, repeat: int = 3) -> Measurement:
    """Best-of-``repeat`` wall time of ``stmt`` and the process's peak RSS, in a fresh Python."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, setup, stmt, str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return Measurement(name, float(data["seconds"]), float(data["peak_mb"]))


def time_command(name: str, argv: Sequence[str], repeat: int = 3) -> Measurement:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return Measurement(name, best)


def ratio_table(
    title: str, rows: Sequence[Measurement], baseline: str, size_mb: float | None = None
) -> Table:
    """A table of measurements with ratios against the row named ``baseline``."""
    base = next(r for r in rows if r.name == baseline)
    table = Table(title=title)
    table.add_column("contender")
    table.add_column("wall s", justify="right")
    if size_mb is not None:
        table.add_column("MB/s", justify="right")
    table.add_column("peak MB", justify="right")
    table.add_column(f"speed vs {baseline}", justify="right")
    table.add_column("note")
    for r in rows:
        cells = [r.name, f"{r.seconds:.3f}"]
        if size_mb is not None:
            cells.append(f"{size_mb / r.seconds:.0f}")
        cells.append("-" if r.peak_mb is None else f"{r.peak_mb:.0f}")
        cells.append(f"{base.seconds / r.seconds:.2f}x")
        cells.append(r.note)
        table.add_row(*cells)
    return table
