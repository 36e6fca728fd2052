"""Robustness of click-to-segment measurements and radiomics to small image changes.

The image perturbation method (Zwanenburg et al., Sci Rep 2019) on the shared
real cases. Each case's reference outline gives the click (the voxel of the
outline nearest its centroid); the image is perturbed and the lesion segmented
again at the same point (moved with the image where it turns):

* Gaussian noise at the image's own noise level, and at twice it;
* HU shift -50 and +50;
* sub-voxel translation (0.5 voxel in-plane);
* in-plane rotation -4 and +4 degrees.

Measured per perturbation against the unperturbed outline (the baseline column):
Dice, long axis, volume, and whether the long-axis change alone would move the
RECIST 1.1 category (+20 % and +5 mm: PD; -30 %: PR). A second table gives the
ICC(1,1) of the IBSI features across sarcoma CT cases
(:mod:`radcycle.imaging.radiomics.robustness`).

Run: ``.venv/bin/python -m benchmarks.run robustness``; docs/robustness.md
holds the tables of the last run. ``RADCYCLE_BENCH_ROBUST_CASES`` sets the
number of sarcoma cases for the ICC table (default 4).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.table import Table
from scipy import ndimage as ndi

from benchmarks.bench_mining import shared_root
from radcycle.domain import Volume
from radcycle.errors import RadcycleError
from radcycle.imaging.measurement import measure_mask
from radcycle.imaging.radiomics.robustness import (
    PERTURBATIONS,
    ROBUST_ICC,
    feature_iccs,
    noise_sd,
    perturbed_features,
)
from radcycle.imaging.segmentation import segment_at_seed
from radcycle.io import read_image

CASES = {
    "IBSI PAT1 (lung, GTV)": (
        "ibsi/ibsi_1_ct_radiomics_phantom/nifti/image/phantom.nii.gz",
        "ibsi/ibsi_1_ct_radiomics_phantom/nifti/mask/mask.nii.gz",
    ),
    "pyradiomics lung1": ("pyradiomics/lung1_image.nrrd", "pyradiomics/lung1_label.nrrd"),
    "pyradiomics lung2": ("pyradiomics/lung2_image.nrrd", "pyradiomics/lung2_label.nrrd"),
}
ROBUST_CASES = int(os.environ.get("RADCYCLE_BENCH_ROBUST_CASES", "4"))

Change = Callable[[np.ndarray, tuple[int, int, int]], tuple[np.ndarray, tuple[float, ...]]]


def _noise(times: float) -> Change:
    def apply(a: np.ndarray, seed: tuple[int, int, int]) -> tuple[np.ndarray, tuple[float, ...]]:
        rng = np.random.default_rng(7)
        return a + rng.normal(0, times * noise_sd(a), a.shape), seed

    return apply


def _hu(delta: float) -> Change:
    return lambda a, seed: (a + delta, seed)


def _shift(a: np.ndarray, seed: tuple[int, int, int]) -> tuple[np.ndarray, tuple[float, ...]]:
    return ndi.shift(a, (0, 0.5, 0.5), order=1, mode="nearest"), (
        seed[0],
        seed[1] + 0.5,
        seed[2] + 0.5,
    )


def _rotate(degrees: float) -> Change:
    def apply(a: np.ndarray, seed: tuple[int, int, int]) -> tuple[np.ndarray, tuple[float, ...]]:
        turned = ndi.rotate(a, degrees, axes=(1, 2), reshape=False, order=1, mode="nearest")
        # ndimage turns the (row, column) plane about its centre
        cj, ci = (a.shape[1] - 1) / 2, (a.shape[2] - 1) / 2
        t = np.deg2rad(degrees)
        dj, di = seed[1] - cj, seed[2] - ci
        j = cj + np.cos(t) * dj - np.sin(t) * di
        i = ci + np.sin(t) * dj + np.cos(t) * di
        return turned, (seed[0], j, i)

    return apply


MEASURE_PERTURBATIONS: dict[str, Change] = {
    "noise x1": _noise(1.0),
    "noise x2": _noise(2.0),
    "HU -50": _hu(-50.0),
    "HU +50": _hu(50.0),
    "translate 0.5 voxel": _shift,
    "rotate -4 deg": _rotate(-4.0),
    "rotate +4 deg": _rotate(4.0),
}


def _click(mask: np.ndarray) -> tuple[int, int, int]:
    points = np.argwhere(mask)
    centre = points.mean(axis=0)
    k, j, i = points[np.argmin(((points - centre) ** 2).sum(axis=1))]
    return int(k), int(j), int(i)


def _segment(volume: Volume, kji: tuple[float, ...]) -> np.ndarray:
    point = volume.index_to_patient([[kji[2], kji[1], kji[0]]])[0]
    seg = segment_at_seed(volume, (float(point[0]), float(point[1]), float(point[2])))
    return np.asarray(seg.mask.array, dtype=bool)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / max(1.0, float(a.sum() + b.sum()))


def _recist_flip(before: float, after: float) -> str:
    change = (after - before) / before
    if change >= 0.20 and after - before >= 5.0:
        return "PD"
    if change <= -0.30:
        return "PR"
    return ""


def measurement_rows(data: Path) -> list[list[str]]:
    rows = []
    for name, (image_path, mask_path) in CASES.items():
        volume = read_image(data / image_path)
        click = _click(np.asarray(read_image(data / mask_path).array) != 0)
        base = _segment(volume, click)
        m0 = measure_mask(volume, base)
        rows.append(
            [
                name,
                "baseline",
                "1.000",
                f"{m0.long_axis_mm:.1f}",
                "",
                f"{m0.volume_mm3 / 1000:.2f}",
                "",
                "",
            ]
        )
        for label, change in MEASURE_PERTURBATIONS.items():
            moved, seed = change(np.asarray(volume.array, dtype=np.float32), click)
            ref = base
            if label.startswith("rotate") or label.startswith("translate"):
                ref = change(base.astype(np.float32), click)[0] >= 0.5
            try:
                mask = _segment(volume.with_array(moved), seed)
                m = measure_mask(volume, mask)
            except RadcycleError as exc:
                rows.append([name, label, "failed", str(exc)[:40], "", "", "", ""])
                continue
            rows.append(
                [
                    name,
                    label,
                    f"{_dice(mask, ref):.3f}",
                    f"{m.long_axis_mm:.1f}",
                    f"{m.long_axis_mm / m0.long_axis_mm:.3f}",
                    f"{m.volume_mm3 / 1000:.2f}",
                    f"{m.volume_mm3 / m0.volume_mm3:.3f}",
                    _recist_flip(m0.long_axis_mm, m.long_axis_mm) or "-",
                ]
            )
    return rows


def icc_summary(data: Path) -> tuple[dict[str, float], int]:
    root = data / "ibsi/ibsi_validation/nifti"
    cases = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir())[:ROBUST_CASES]:
        volume = read_image(folder / "CT_image.nii.gz")
        mask = read_image(folder / "CT_mask.nii.gz")
        cases.append(perturbed_features(volume, mask, "default"))
    return feature_iccs(cases), len(cases)


def run(workdir: Path) -> Table:
    data = shared_root() / "data"
    table = Table(title="click-to-segment under perturbation (ratio: perturbed / baseline)")
    for column in (
        "case",
        "perturbation",
        "Dice",
        "long axis mm",
        "ratio",
        "volume mL",
        "ratio",
        "RECIST flip",
    ):
        table.add_column(column)
    for row in measurement_rows(data):
        table.add_row(*row)
    return table


def run_icc() -> Table:
    iccs, n = icc_summary(shared_root() / "data")
    table = Table(
        title=f"IBSI feature ICC(1,1): {n} sarcoma CTs x {len(PERTURBATIONS)} perturbations"
    )
    for column in ("family", "features", f"robust (ICC >= {ROBUST_ICC})", "median ICC", "lowest"):
        table.add_column(column)
    families: dict[str, list[tuple[str, float]]] = {}
    for tag, value in iccs.items():
        families.setdefault(tag.split("_")[0], []).append((tag, value))
    for family, items in families.items():
        finite = [(t, v) for t, v in items if np.isfinite(v)]
        values = [v for _, v in finite]
        worst = min(finite, key=lambda x: x[1]) if finite else ("-", float("nan"))
        table.add_row(
            family,
            str(len(items)),
            str(sum(v >= ROBUST_ICC for v in values)),
            f"{np.median(values):.3f}" if values else "-",
            f"{worst[0]} {worst[1]:.2f}",
        )
    return table


if __name__ == "__main__":
    from rich.console import Console

    console = Console(width=160)
    console.print(run(Path(".")))
    console.print(run_icc())
