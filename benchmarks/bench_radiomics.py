"""IBSI 1 radiomics on the CT phantom PAT1, configuration A: radcycle vs pyradiomics
3.0.1 vs MIRP, side by side, plus radcycle's compliance on every IBSI 1 case.

Every engine runs in a fresh process and reports its own wall and CPU time for the
feature computation (image already read) and its peak memory. radcycle and
pyradiomics: best of 3; MIRP: one run (it takes tens of seconds). Compliance uses
the IBSI rule (value rounded to 3 significant digits, within the tolerance) against
``data/ibsi/reference-values``. The peers live in their own virtualenv made by
``scripts/install-bench-peers.sh``; without it their rows say so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from benchmarks.radiomics_peer_names import mirp_to_ibsi, pyradiomics_to_ibsi
from radcycle.imaging.radiomics.compliance import Reference, parse_reference

ROOT = Path(__file__).resolve().parents[1]
RUNNERS = Path(__file__).resolve().parent / "radiomics_runners"
REPEATS = int(os.environ.get("RADCYCLE_BENCH_REPEATS", "3"))

# IBSI case -> (data folder, reference table suffix).
CASES = {
    "ibsi-phantom": ("ibsi_1_digital_phantom", "digital_phantom"),
    "ibsi-a": ("ibsi_1_ct_radiomics_phantom", "config_A"),
    "ibsi-b": ("ibsi_1_ct_radiomics_phantom", "config_B"),
    "ibsi-c": ("ibsi_1_ct_radiomics_phantom", "config_C"),
    "ibsi-d": ("ibsi_1_ct_radiomics_phantom", "config_D"),
    "ibsi-e": ("ibsi_1_ct_radiomics_phantom", "config_E"),
}


@dataclass
class Run:
    name: str
    seconds: float | None = None
    cpu_seconds: float | None = None
    peak_mb: float | None = None
    computed: int = 0
    passed: int = 0
    total: int = 0
    note: str = ""


def _shared_data() -> Path:
    env = os.environ.get("RADCYCLE_SHARED")
    return (Path(env) if env else ROOT.parent / "shared") / "data"


def _peer_python() -> Path:
    venv = os.environ.get("RADCYCLE_PEERS_VENV", str(Path.home() / ".cache/radcycle/bench-peers"))
    return Path(venv) / "bin" / "python"


def _case(case: str) -> tuple[Path, Path, list[Reference]]:
    data = _shared_data() / "ibsi"
    folder, table = CASES[case]
    nifti = data / folder / "nifti"
    refs = parse_reference(
        (data / "reference-values" / f"ibsi_1_reference_values_{table}.csv").read_text("utf-8")
    )
    return nifti / "image" / "phantom.nii.gz", nifti / "mask" / "mask.nii.gz", refs


def _run(
    name: str,
    argv: list[str],
    refs: list[Reference],
    translate: Callable[[dict[str, float]], dict[str, float]],
) -> Run:
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return Run(name, note=f"failed: {out.stderr.strip().splitlines()[-1:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    features = translate(data["features"])
    with_ref = [r for r in refs if r.tag in features]
    return Run(
        name,
        float(data["seconds"]),
        float(data["cpu_seconds"]),
        float(data["peak_mb"]),
        len(with_ref),
        sum(r.matches(features[r.tag]) for r in with_ref),
        len(refs),
    )


def _ours(case: str, repeats: int) -> Run:
    image, mask, refs = _case(case)
    runner = RUNNERS / "radiomics_radcycle.py"
    argv = [sys.executable, str(runner), str(image), str(mask), case, str(repeats)]
    return _run(f"radcycle {case}", argv, refs, dict)


def _peer(
    name: str,
    script: str,
    case: str,
    repeats: int,
    translate: Callable[[dict[str, float]], dict[str, float]],
) -> Run:
    python = _peer_python()
    if not python.exists():
        return Run(name, note="not installed: run scripts/install-bench-peers.sh")
    image, mask, refs = _case(case)
    argv = [str(python), str(RUNNERS / script), str(image), str(mask), case, str(repeats)]
    return _run(name, argv, refs, translate)


def _pyradiomics(case: str, repeats: int) -> Run:
    force_2d = case in ("ibsi-a", "ibsi-b")
    return _peer(
        f"pyradiomics 3.0.1 {case}",
        "radiomics_pyradiomics.py",
        case,
        repeats,
        lambda f: pyradiomics_to_ibsi(f, force_2d),
    )


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def run(workdir: Path) -> Table:
    del workdir
    if not (_shared_data() / "ibsi").is_dir():
        table = Table(title="radiomics: IBSI data absent (set RADCYCLE_SHARED)")
        return table
    ours = _ours("ibsi-a", REPEATS)
    rows = [
        ours,
        _pyradiomics("ibsi-a", REPEATS),
        _peer("MIRP ibsi-a", "radiomics_mirp.py", "ibsi-a", 1, mirp_to_ibsi),
    ]
    rows[2].note = rows[2].note or "1 run; 2D only for zone/neighbour families"
    table = Table(title="IBSI 1 radiomics, PAT1 configuration A (346 reference features)")
    for col in ("engine", "computed", "within tol.", "wall s", "CPU s", "peak MB"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    table.add_column("CPU time vs radcycle", justify="right")
    table.add_column("note")

    def add(r: Run, compare: bool = True) -> None:
        ratio = "-"
        if compare and r.cpu_seconds and ours.cpu_seconds:
            ratio = f"{r.cpu_seconds / ours.cpu_seconds:.1f}x"
        table.add_row(
            r.name,
            f"{r.computed}/{r.total}",
            f"{r.passed}/{r.total}",
            _fmt(r.seconds, ".2f"),
            _fmt(r.cpu_seconds, ".2f"),
            _fmt(r.peak_mb, ".0f"),
            ratio,
            r.note,
        )

    for r in rows:
        add(r)
    table.add_section()
    for case in CASES:
        if case != "ibsi-a":
            add(_ours(case, 1), compare=False)
            add(_pyradiomics(case, 1), compare=False)
    return table
