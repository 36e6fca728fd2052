"""Report mining on run-on text: time grows in proportion to length, not its square.

A hostile report is one sentence of many mentions (no full stop, no comma
rescue). Each size is timed; the baseline is the smallest size's time per
kilobyte, so a ratio near 1 at every size means linear time (the former miner,
which compared every mention with every trigger, took 130 s on 50 KB).

Run: ``.venv/bin/python -m benchmarks.run mining-runon``.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.table import Table

from radcycle.clinical.nlp.miner import mine_text

UNIT = "no effusion or nodule 12 mm in the left lung and pneumothorax not seen and "
SIZES_KB = (4, 8, 16, 32, 64)


def _seconds(kb: int) -> tuple[float, int]:
    text = "FINDINGS: " + UNIT * (kb * 1024 // len(UNIT))
    start = time.perf_counter()
    report = mine_text(text)
    return time.perf_counter() - start, len(report.findings)


def run(workdir: Path) -> Table:
    table = Table(title="mining a run-on sentence: seconds per KB against the 4 KB baseline")
    for column in ("size KB", "findings", "seconds", "s per KB", "baseline s per KB", "ratio"):
        table.add_column(column, justify="right")
    base = None
    for kb in SIZES_KB:
        seconds, findings = _seconds(kb)
        per_kb = seconds / kb
        base = base or per_kb
        table.add_row(
            str(kb), str(findings), f"{seconds:.2f}", f"{per_kb:.4f}", f"{base:.4f}",
            f"{per_kb / base:.2f}",
        )  # fmt: skip
    return table
