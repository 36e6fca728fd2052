"""Lung masses (over 3 cm) placed in synthetic chest CTs: are they detected?

The synthetic patients carry nodules of 4-30 mm only. Here a solid mass of a
given diameter (38 HU, with a one-voxel partial-volume edge and 12 HU noise) is
put in each patient's lung, at a point drawn at random among those lying at
least its radius plus a margin inside the lung envelope (so it is surrounded
by lung, not against the chest wall or the mediastinum), and the detector is
run. A mass counts as found where a detection lies within a quarter of its
diameter of its centre; the long-axis error is that detection's.

Run: ``.venv/bin/python -m benchmarks.bench_masses`` (also part of ``make bench``).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np
from rich.table import Table

from radcycle.domain import Volume
from radcycle.imaging.detection import DetectionSettings, detect_nodules
from radcycle.imaging.lungs import LungModel, segment_lungs
from radcycle.synth import generate_patient
from radcycle.synth.masses import add_mass

__all__ = ["evaluate_masses", "mass_table", "place_mass"]

MASS_PATIENTS = int(os.environ.get("RADCYCLE_BENCH_MASS_PATIENTS", "10"))
MASS_DIAMETERS_MM = (35.0, 50.0)
# The mass's edge stays this far (mm) inside the lung envelope.
_MARGIN_MM = 5.0


def place_mass(
    volume: Volume, lungs: LungModel, diameter_mm: float, rng: np.random.Generator
) -> tuple[Volume, tuple[float, float, float]] | None:
    """``volume`` with a solid mass in the lung, and its centre (LPS mm); None
    where no point of the lungs is deep enough for it."""
    deep = np.argwhere(lungs.pleural_distance >= diameter_mm / 2.0 + _MARGIN_MM)
    if len(deep) == 0:
        return None
    pick = deep[rng.integers(len(deep))]
    kji = (
        int(pick[0]) * lungs.stride[0],
        int(pick[1]) * lungs.stride[1],
        int(pick[2]) * lungs.stride[2],
    )
    return add_mass(volume, kji, diameter_mm, rng)


def evaluate_masses(
    seeds: range, diameters: tuple[float, ...] = MASS_DIAMETERS_MM, slices: int = 120
) -> dict[float, dict[str, Any]]:
    """Per diameter: masses found, placed, long-axis errors (mm) and seconds per
    scan; and found with masses held to the nodules' isolation limit (the
    detector before masses were told apart), as the baseline."""
    baseline = DetectionSettings(mass_mm=math.inf)
    out: dict[float, dict[str, Any]] = {
        d: {"found": 0, "baseline": 0, "placed": 0, "errors": [], "seconds": []} for d in diameters
    }
    for seed in seeds:
        tp = generate_patient(seed, timepoints=1, slices=slices).timepoints[0]
        lungs = segment_lungs(tp.volume)
        rng = np.random.default_rng([seed, 31])
        for diameter in diameters:
            placed = place_mass(tp.volume, lungs, diameter, rng)
            if placed is None:
                continue
            volume, centre = placed
            row = out[diameter]
            row["placed"] += 1
            start = time.perf_counter()
            dets = [d for d, _ in detect_nodules(volume)]
            row["seconds"].append(time.perf_counter() - start)
            near = [
                d
                for d in dets
                if np.linalg.norm(np.asarray(d.centre_mm) - centre) <= diameter / 4.0
            ]
            if near:
                row["found"] += 1
                row["errors"].append(near[0].measurements.long_axis_mm - diameter)
            before = detect_nodules(volume, settings=baseline)
            row["baseline"] += any(
                np.linalg.norm(np.asarray(d.centre_mm) - centre) <= diameter / 4.0
                for d, _ in before
            )
    return out


def mass_table(report: dict[float, dict[str, Any]]) -> Table:
    table = Table(
        title="Lung masses placed in synthetic chest CTs (512x512x120), surrounded by lung"
    )
    columns = (
        "diameter mm",
        "found/placed",
        "baseline: held to the nodules' isolation limit",
        "long axis error mm (median, max abs)",
        "s/scan",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for diameter, row in report.items():
        errors = np.asarray(row["errors"])
        table.add_row(
            f"{diameter:g}",
            f"{row['found']}/{row['placed']}",
            f"{row['baseline']}/{row['placed']}",
            f"{np.median(errors):+.1f}, {np.max(np.abs(errors)):.1f}" if errors.size else "-",
            f"{np.mean(row['seconds']):.1f}" if row["seconds"] else "-",
        )
    return table


if __name__ == "__main__":
    from rich.console import Console

    Console(width=120).print(mass_table(evaluate_masses(range(MASS_PATIENTS))))
