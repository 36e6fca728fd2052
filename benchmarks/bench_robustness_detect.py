"""Detection hits under perturbation: is the known nodule still found?

pyradiomics lung1 (a chest CT section with one 16 mm nodule and its reference
outline) is perturbed as in :mod:`benchmarks.bench_robustness` (noise, HU
shift, translation, rotation, in-plane and slice resolution) and the lung
nodule detector runs on each copy. A hit is a detection whose centre lies in
the reference outline grown by 2 mm; false positives are the other detections.

Run: ``.venv/bin/python -m benchmarks.run robustness-detect``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table
from scipy import ndimage as ndi

from benchmarks.bench_mining import shared_root
from benchmarks.bench_robustness import RESOLUTIONS_MM, _perturbations, _resample
from radcycle.domain import Volume
from radcycle.errors import RadcycleError
from radcycle.imaging.detection import detect_nodules

CASE = ("pyradiomics/lung1_image.nrrd", "pyradiomics/lung1_label.nrrd")


def _hits(volume: Volume, found: Volume, reference: np.ndarray) -> tuple[int, int]:
    """(hits, others): detections in ``found`` whose centre falls in the reference."""
    hits = others = 0
    for det, _ in detect_nodules(found):
        k, j, i = (round(float(v)) for v in volume.patient_to_index([det.centre_mm])[0][::-1])
        inside = (
            0 <= k < reference.shape[0]
            and 0 <= j < reference.shape[1]
            and 0 <= i < reference.shape[2]
            and bool(reference[k, j, i])
        )
        hits += inside
        others += not inside
    return hits, others


def rows(data: Path) -> list[list[str]]:
    from radcycle.io import read_image

    volume = read_image(data / CASE[0])
    ref = np.asarray(read_image(data / CASE[1]).array) != 0
    spacing = np.asarray(volume.spacing)
    grow = np.maximum(1, np.round(2.0 / spacing[::-1])).astype(int)
    reference = ndi.binary_dilation(ref, np.ones(tuple(2 * g + 1 for g in grow), dtype=bool))
    out = []
    cases: list[tuple[str, Volume]] = [("baseline", volume)]
    for family, label, _, change in _perturbations():
        if family == "translate" or label in ("noise x0.5", "HU -25", "HU +25"):
            continue
        moved, _ = change(np.asarray(volume.array, dtype=np.float32), (0, 0, 0))
        cases.append((label, volume.with_array(moved)))
    di, dj, dk = (float(v) for v in volume.spacing)
    for mm in RESOLUTIONS_MM:
        cases.append((f"in-plane {mm:g} mm", _resample(volume, (mm, mm, dk))))
        cases.append((f"slice {mm:g} mm", _resample(volume, (di, dj, mm))))
    for label, image in cases:
        try:
            hits, others = _hits(volume, image, reference)
        except RadcycleError as exc:
            out.append([label, "failed", str(exc)[:50]])
            continue
        out.append([label, "yes" if hits else "MISSED", str(others)])
    return out


def run(workdir: Path) -> Table:
    table = Table(title="lung1's nodule found by the detector under perturbation")
    for column in ("perturbation", "nodule found", "other detections"):
        table.add_column(column)
    for row in rows(shared_root() / "data"):
        table.add_row(*row)
    return table
