"""Run every registered benchmark (``make bench``) or the ones named on the command line.

Each benchmark module has ``run(workdir: Path) -> Table`` and is listed
explicitly in :data:`BENCHMARKS`. A table is printed with the contender and the
baseline side by side, and the ratio.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path

from rich.console import Console

BENCHMARKS: dict[str, str] = {
    "read": "benchmarks.bench_read",
    "follow": "benchmarks.bench_follow",
    "lung": "benchmarks.bench_lung",
    "mining": "benchmarks.bench_mining",
    "mining-runon": "benchmarks.bench_mining_runon",
    "radiomics": "benchmarks.bench_radiomics",
    "radiomics-mirp": "benchmarks.bench_radiomics_mirp",
    "deid": "benchmarks.bench_deid",
    "planted": "benchmarks.bench_planted",
    "synth": "benchmarks.bench_synth",
    "batch": "benchmarks.bench_batch",
    "batch-deid": "benchmarks.bench_batch_deid",
    "qc": "benchmarks.bench_qc",
    "robustness": "benchmarks.bench_robustness",
    "robustness-icc": "benchmarks.bench_robustness_icc",
    "robustness-detect": "benchmarks.bench_robustness_detect",
    "reports": "benchmarks.bench_reports",
    "outline-snapshot": "benchmarks.outline_snapshot",
    "pacs": "benchmarks.bench_pacs",
    "service-load": "benchmarks.bench_service_load",
    "realcase": "benchmarks.bench_realcase",
    "new-lesions": "benchmarks.bench_new_lesions",
    "federated": "benchmarks.bench_federated",
    "federated-cv": "benchmarks.bench_federated_cv",
    "learned": "benchmarks.bench_learned",
    "onnx-click": "benchmarks.bench_onnx_click",
    "quantise": "benchmarks.bench_quantise",
}


def main(argv: list[str]) -> int:
    console = Console()
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        console.print(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}")
        return 2
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        with tempfile.TemporaryDirectory(prefix=f"radcycle-bench-{name}-") as tmp:
            console.print(module.run(Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
