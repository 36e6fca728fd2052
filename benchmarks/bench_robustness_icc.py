"""IBSI feature robustness (ICC(1,1)) across sarcoma CTs under image perturbation.

The second table of :mod:`benchmarks.bench_robustness`, run on its own because
it computes every feature eight times per case. Run:
``.venv/bin/python -m benchmarks.run robustness-icc``.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from benchmarks.bench_robustness import run_icc


def run(workdir: Path) -> Table:
    return run_icc()
