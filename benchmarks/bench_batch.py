"""Batch radiomics over a cohort: items per second on 1 and 2 workers, local pool and Ray,
side by side with pyradiomics' own batch mode on the same image/mask pairs.

Pairs: the 23 soft-tissue-sarcoma patients of the shared IBSI validation set (CT,
T1 MR and PET, each with its outline) and pyradiomics' lung1 and lung2, cycled to
``$RADCYCLE_BENCH_BATCH_PAIRS`` items (default 200), split evenly between the
configurations ``$RADCYCLE_BENCH_BATCH_CONFIGS`` (default ``ibsi-b,ibsi-c``), one
run each. ``$RADCYCLE_BENCH_BATCH_SET=pet`` keeps only the PET pairs (a quick run).

Every contender is the whole command in a fresh process, timed from start to end
(process start-up, worker start-up and Ray start-up included), with a fresh run
folder. pyradiomics runs its default settings over the same pairs (its feature set
differs: the comparison is of throughput). "compute s/item" is the mean time of
the feature computation alone inside radcycle's tasks (image reading and the
engine's overhead excluded). Scaling efficiency is the 2-worker rate
over twice the 1-worker rate of the same engine. The peers' virtualenv comes from
``scripts/install-bench-peers.sh``; without it the pyradiomics rows say so.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
PAIRS = int(os.environ.get("RADCYCLE_BENCH_BATCH_PAIRS", "200"))
CONFIGS = os.environ.get("RADCYCLE_BENCH_BATCH_CONFIGS", "ibsi-b,ibsi-c").split(",")
SUBSET = os.environ.get("RADCYCLE_BENCH_BATCH_SET", "all")
MODALITIES = ("CT", "MR_T1", "PET")


@dataclass
class Run:
    engine: str
    workers: int
    items: int = 0
    seconds: float | None = None
    peak_mb: float | None = None
    failed: int = 0
    compute: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def rate(self) -> float | None:
        return self.items / self.seconds if self.seconds else None


def _shared_data() -> Path:
    env = os.environ.get("RADCYCLE_SHARED")
    return (Path(env) if env else ROOT.parent / "shared") / "data"


def _pairs() -> list[tuple[str, Path, Path]]:
    """(case, image, mask) of every sarcoma scan and both pyradiomics lungs."""
    data = _shared_data()
    sarcoma = data / "ibsi" / "ibsi_validation" / "nifti"
    modalities = ("PET",) if SUBSET == "pet" else MODALITIES
    pairs = [
        (f"{case.name}_{m}", case / f"{m}_image.nii.gz", case / f"{m}_mask.nii.gz")
        for case in sorted(sarcoma.iterdir())
        for m in modalities
        if (case / f"{m}_image.nii.gz").is_file()
    ]
    if SUBSET != "pet":
        lungs = data / "pyradiomics"
        pairs += [
            (n, lungs / f"{n}_image.nrrd", lungs / f"{n}_label.nrrd") for n in ("lung1", "lung2")
        ]
    return pairs


def _write_cases(folder: Path, count: int, offset: int) -> Path:
    """A pyradiomics batch CSV (ID, Image, Mask) of ``count`` items cycling over the pairs."""
    folder.mkdir(parents=True, exist_ok=True)
    cycle = itertools.islice(itertools.cycle(_pairs()), offset, offset + count)
    rows = [f"{c}-{n + offset},{i},{m}" for n, (c, i, m) in enumerate(cycle)]
    path = folder / "cases.csv"
    path.write_text("ID,Image,Mask\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _ours(workdir: Path, workers: int, ray: bool) -> Run:
    engine = "radcycle, Ray (local instance)" if ray else "radcycle, local pool"
    run = Run(engine, workers)
    per_config = PAIRS // len(CONFIGS)
    radcycle = Path(sys.executable).parent / "radcycle"
    for n, config in enumerate(CONFIGS):
        folder = workdir / f"{'ray' if ray else 'pool'}-{workers}-{config}"
        cases = _write_cases(folder, per_config, n * per_config)
        argv = [str(radcycle), "batch", "radiomics", str(cases), "--config", config]
        argv += ["--out", str(folder / "features.parquet"), "--workers", str(workers), "--json"]
        argv += ["--ray", "local"] if ray else []
        start = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if out.returncode not in (0, 1):
            return Run(engine, workers, note=f"failed: {out.stderr.strip().splitlines()[-1:]}")
        report = json.loads(out.stdout)
        run.items += per_config
        run.seconds = (run.seconds or 0.0) + elapsed
        run.failed += int(report["failed"])
        run.peak_mb = max(run.peak_mb or 0.0, float(report["peak_worker_rss_mb"]))
        run.compute += _compute_seconds(Path(report["run"]))
    return run


def _compute_seconds(run_dir: Path) -> list[float]:
    """Each done item's feature computation time, as its task reported it."""
    with sqlite3.connect(run_dir / "manifest.sqlite") as db:
        rows = db.execute("SELECT summary FROM items WHERE status = 'done'").fetchall()
    return [float(json.loads(r[0])["seconds"]) for r in rows]


def _pyradiomics(workdir: Path, workers: int) -> Run:
    venv = os.environ.get("RADCYCLE_PEERS_VENV", str(Path.home() / ".cache/radcycle/bench-peers"))
    command = Path(venv) / "bin" / "pyradiomics"
    if not command.exists():
        return Run(
            "pyradiomics 3.0.1 batch",
            workers,
            note="not installed: run scripts/install-bench-peers.sh",
        )
    folder = workdir / f"pyradiomics-{workers}"
    per_config = PAIRS // len(CONFIGS)
    cases = _write_cases(folder, per_config * len(CONFIGS), 0)
    argv = [str(command), str(cases), "-o", str(folder / "features.csv"), "-f", "csv"]
    argv += ["--jobs", str(workers)]
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        return Run("pyradiomics 3.0.1 batch", workers, note=f"failed: {out.stderr.strip()[-200:]}")
    return Run("pyradiomics 3.0.1 batch", workers, per_config * len(CONFIGS), elapsed)


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def run(workdir: Path) -> Table:
    """Measure every engine on 1 and 2 workers and print them side by side."""
    runs = []
    for engine in ("pool", "ray", "pyradiomics"):
        for workers in (1, 2):
            if engine == "pyradiomics":
                runs.append(_pyradiomics(workdir, workers))
            else:
                runs.append(_ours(workdir, workers, ray=engine == "ray"))
    one = {r.engine: r.rate for r in runs if r.workers == 1}
    peer = {r.workers: r.rate for r in runs if r.engine.startswith("pyradiomics")}
    title = (
        f"batch radiomics: {PAIRS} items over {len(_pairs())} pairs, configs {', '.join(CONFIGS)}"
        f" (set {SUBSET})"
    )
    table = Table(title=title)
    for column in ("engine", "workers", "items", "seconds", "items/s", "scaling", "vs pyradiomics"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    table.add_column("compute s/item", justify="right")
    table.add_column("peak MiB/worker", justify="right")
    table.add_column("note")
    for r in runs:
        base = one.get(r.engine)
        scaling = r.rate / (2 * base) if r.workers == 2 and r.rate and base else None
        ratio = r.rate / peer[r.workers] if r.rate and peer.get(r.workers) else None
        table.add_row(
            r.engine,
            str(r.workers),
            str(r.items),
            _cell(r.seconds, ".1f"),
            _cell(r.rate, ".3f"),
            _cell(scaling, ".0%"),
            _cell(ratio, ".2f"),
            _cell(sum(r.compute) / len(r.compute) if r.compute else None, ".2f"),
            _cell(r.peak_mb, ".0f"),
            r.note or (f"{r.failed} failed" if r.failed else ""),
        )
    return table
