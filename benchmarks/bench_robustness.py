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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.table import Table
from scipy import ndimage as ndi

from benchmarks.bench_mining import shared_root
from radcycle.domain import Geometry, Volume
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


def _resample(volume: Volume, spacing: tuple[float, float, float]) -> Volume:
    """The image on a grid of ``spacing`` (di, dj, dk) over the same extent (linear)."""
    old = np.asarray(volume.spacing, dtype=float)
    new = np.asarray(spacing, dtype=float)
    shape_kji = np.asarray(volume.array.shape)
    out_shape = np.maximum(1, np.round(shape_kji * old[::-1] / new[::-1])).astype(int)
    factors = out_shape / shape_kji
    array = ndi.zoom(
        np.asarray(volume.array, dtype=np.float32), factors, order=1, grid_mode=True, mode="nearest"
    )
    exact = old * shape_kji[::-1] / out_shape[::-1]  # the extent kept whole
    # voxel centres: the first sits half a new voxel in from the old grid's edge
    origin = volume.origin + volume.direction @ ((exact - old) / 2.0)
    return Volume(array, Geometry(origin, exact, volume.direction), dict(volume.metadata))


def _back(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A mask on a resampled grid brought back onto the baseline grid."""
    factors = np.asarray(shape) / np.asarray(mask.shape)
    back = ndi.zoom(mask.astype(np.float32), factors, order=1, grid_mode=True, mode="grid-constant")
    return np.asarray(back >= 0.5)


def _click(mask: np.ndarray) -> tuple[int, int, int]:
    points = np.argwhere(mask)
    centre = points.mean(axis=0)
    k, j, i = points[np.argmin(((points - centre) ** 2).sum(axis=1))]
    return int(k), int(j), int(i)


def _point(volume: Volume, kji: tuple[float, ...]) -> tuple[float, float, float]:
    p = volume.index_to_patient([[kji[2], kji[1], kji[0]]])[0]
    return float(p[0]), float(p[1]), float(p[2])


def _segment(volume: Volume, kji: tuple[float, ...]) -> np.ndarray:
    seg = segment_at_seed(volume, _point(volume, kji))
    return np.asarray(seg.mask.array, dtype=bool)


def _segment_at(volume: Volume, point: tuple[float, float, float]) -> np.ndarray:
    return np.asarray(segment_at_seed(volume, point).mask.array, dtype=bool)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / max(1.0, float(a.sum() + b.sum()))


def _recist_flip(before: float, after: float) -> str:
    change = (after - before) / before
    if change >= 0.20 and after - before >= 5.0:
        return "PD"
    if change <= -0.30:
        return "PR"
    return ""


def lung_rads_size_category(mean_mm: float) -> str:
    """Lung-RADS v2022 category of a solid nodule at baseline by mean diameter.

    Example:
        >>> [lung_rads_size_category(d) for d in (5.9, 6.0, 8.0, 15.0)]
        ['2', '3', '4A', '4B']
    """
    for cut, category in ((15.0, "4B"), (8.0, "4A"), (6.0, "3")):
        if mean_mm >= cut:
            return category
    return "2"


@dataclass(frozen=True)
class Outcome:
    """One perturbed measurement against the baseline of its case."""

    case: str
    family: str
    label: str
    amount: float
    dice: float | None
    long_mm: float | None
    short_mm: float | None
    volume_ml: float | None
    base: tuple[float, float, float]
    error: str = ""

    def ratio(self, index: int) -> float | None:
        value = (self.long_mm, self.short_mm, self.volume_ml)[index]
        return None if value is None else value / self.base[index]

    def flips(self) -> str:
        """Category flips the change alone would cause: RECIST response, Lung-RADS size."""
        if self.long_mm is None or self.short_mm is None:
            return "failed"
        out = []
        recist = _recist_flip(self.base[0], self.long_mm)
        if recist:
            out.append(f"RECIST {recist}")
        if (self.base[0] >= 10.0) != (self.long_mm >= 10.0):
            out.append("RECIST measurable")
        before = lung_rads_size_category((self.base[0] + self.base[1]) / 2)
        after = lung_rads_size_category((self.long_mm + self.short_mm) / 2)
        if before != after:
            out.append(f"Lung-RADS {before}->{after}")
        return ", ".join(out) or "-"


def _perturbations() -> list[tuple[str, str, float, Change]]:
    """(family, label, amount, change) for the table and the curves."""
    out: list[tuple[str, str, float, Change]] = []
    for times in (0.5, 1.0, 2.0, 3.0):
        out.append(("noise", f"noise x{times:g}", times, _noise(times)))
    for delta in (-50.0, -25.0, 25.0, 50.0):
        out.append(("HU shift", f"HU {delta:+g}", delta, _hu(delta)))
    out.append(("translate", "translate 0.5 voxel", 0.5, _shift))
    for degrees in (-4.0, 4.0):
        out.append(("rotate", f"rotate {degrees:+g} deg", degrees, _rotate(degrees)))
    return out


#: resolutions (mm) tried in-plane (slices kept) and between slices (in-plane kept)
RESOLUTIONS_MM = (1.0, 2.0, 3.0, 5.0)


def _measure(volume: Volume, mask: np.ndarray) -> tuple[float, float, float]:
    m = measure_mask(volume, mask)
    if m.long_axis_mm is None or m.short_axis_mm is None or m.volume_mm3 is None:
        raise RadcycleError("the outline could not be measured")
    return m.long_axis_mm, m.short_axis_mm, m.volume_mm3 / 1000.0


def _failed(
    case: str,
    family: str,
    label: str,
    amount: float,
    base: tuple[float, float, float],
    exc: Exception,
) -> Outcome:
    return Outcome(case, family, label, amount, None, None, None, None, base, str(exc))


def measurement_outcomes(data: Path) -> list[Outcome]:
    """Every perturbation of every case of :data:`CASES` (or ``RADCYCLE_BENCH_ROBUST_MEASURE``)."""
    wanted = os.environ.get("RADCYCLE_BENCH_ROBUST_MEASURE", "")
    out: list[Outcome] = []
    for name, (image_path, mask_path) in CASES.items():
        if wanted and not any(w.strip() and w.strip() in name for w in wanted.split(",")):
            continue
        volume = read_image(data / image_path)
        click = _click(np.asarray(read_image(data / mask_path).array) != 0)
        base = _segment(volume, click)
        b = _measure(volume, base)
        out.append(Outcome(name, "baseline", "baseline", 0.0, 1.0, *b, base=b))
        for family, label, amount, change in _perturbations():
            moved, seed = change(np.asarray(volume.array, dtype=np.float32), click)
            ref = base
            if family in ("rotate", "translate"):
                ref = change(base.astype(np.float32), click)[0] >= 0.5
            try:
                mask = _segment(volume.with_array(moved), seed)
                m = _measure(volume, mask)
            except RadcycleError as exc:
                out.append(
                    Outcome(name, family, label, amount, None, None, None, None, b, str(exc))
                )
                continue
            out.append(Outcome(name, family, label, amount, _dice(mask, ref), *m, base=b))
        point = _point(volume, click)
        di, dj, dk = (float(v) for v in volume.spacing)
        for mm in RESOLUTIONS_MM:
            for family, spacing in (("in-plane", (mm, mm, dk)), ("slice", (di, dj, mm))):
                label = f"{family} {mm:g} mm"
                try:
                    coarse = _resample(volume, spacing)
                    mask = _segment_at(coarse, point)
                    m = _measure(coarse, mask)
                except RadcycleError as exc:
                    out.append(
                        Outcome(name, family, label, mm, None, None, None, None, b, str(exc))
                    )
                    continue
                dice = _dice(_back(mask, base.shape), base)
                out.append(Outcome(name, family, label, mm, dice, *m, base=b))
        for steps, label in ((1, "contour +1 voxel"), (-1, "contour -1 voxel")):
            # one voxel in-plane, as a reader's outline varies (slices are kept)
            plane = np.zeros((3, 3, 3), dtype=bool)
            plane[1] = ndi.generate_binary_structure(2, 1)
            grown = (
                ndi.binary_dilation(base, plane) if steps > 0 else ndi.binary_erosion(base, plane)
            )
            m = _measure(volume, grown)
            out.append(
                Outcome(name, "contour", label, float(steps), _dice(grown, base), *m, base=b)
            )
    return out


def measurement_rows(data: Path) -> list[list[str]]:
    return _rows(measurement_outcomes(data))


def _rows(outcomes: list[Outcome]) -> list[list[str]]:
    rows = []
    for o in outcomes:
        if o.dice is None or o.long_mm is None:
            rows.append([o.case, o.label, "failed", o.error[:40], "", "", "", "", "", ""])
            continue
        base = o.family == "baseline"

        def ratio(index: int, o: Outcome = o, base: bool = base) -> str:
            r = o.ratio(index)
            return "" if base or r is None else f"{r:.3f}"

        rows.append(
            [
                o.case,
                o.label,
                f"{o.dice:.3f}",
                f"{o.long_mm:.1f}",
                ratio(0),
                f"{o.short_mm:.1f}",
                ratio(1),
                f"{o.volume_ml:.2f}",
                ratio(2),
                "" if base else o.flips(),
            ]
        )
    return rows


def repeatability(outcomes: list[Outcome]) -> dict[str, float]:
    """Long-axis change (mm and % of the baseline) under the perturbations of a repeat scan.

    A repeat scan on the same scanner: noise at the image's level, a sub-voxel
    shift, a 4-degree turn (``noise x1``, ``translate``, ``rotate``); the cases
    whose outline holds (Dice 0.9 or more) are taken, as the report's noise
    band is for a lesion the outline finds.
    """
    repeat = ("noise x1", "translate 0.5 voxel", "rotate -4 deg", "rotate +4 deg")
    diffs = [
        (abs(o.long_mm - o.base[0]), abs(o.long_mm - o.base[0]) / o.base[0] * 100.0)
        for o in outcomes
        if o.label in repeat and o.long_mm is not None and (o.dice or 0.0) >= 0.9
    ]
    if not diffs:
        return {}
    mm, pct = (np.asarray(v) for v in zip(*diffs, strict=True))
    return {
        "n": float(len(diffs)),
        "median_mm": float(np.median(mm)),
        "max_mm": float(mm.max()),
        "median_pct": float(np.median(pct)),
        "p95_pct": float(np.percentile(pct, 95)),
        "max_pct": float(pct.max()),
    }


def curves_figure(outcomes: list[Outcome], path: Path) -> None:
    """Degradation curves: Dice and long-axis ratio against each perturbation's amount."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = ("noise", "HU shift", "in-plane", "slice")
    units = ("x image noise", "HU", "in-plane spacing mm", "slice spacing mm")
    fig, axes = plt.subplots(2, 4, figsize=(16, 7), sharey="row")
    cases = list(dict.fromkeys(o.case for o in outcomes))
    for col, (family, unit) in enumerate(zip(families, units, strict=True)):
        for case in cases:
            points = sorted(
                (o.amount, o.dice, o.ratio(0))
                for o in outcomes
                if o.case == case and o.family == family and o.dice is not None
            )
            if family in ("noise", "HU shift"):
                points = sorted([*points, (0.0, 1.0, 1.0)])
            if not points:
                continue
            x = [p[0] for p in points]
            axes[0, col].plot(x, [p[1] for p in points], marker="o", label=case)
            axes[1, col].plot(x, [p[2] for p in points], marker="o", label=case)
        axes[0, col].set_title(family)
        axes[1, col].set_xlabel(unit)
    axes[0, 0].set_ylabel("Dice against the baseline outline")
    axes[1, 0].set_ylabel("long axis / baseline")
    for ax in axes[1]:
        ax.axhline(1.2, color="grey", lw=0.8, ls="--")
        ax.axhline(0.7, color="grey", lw=0.8, ls="--")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("click-to-segment under perturbation (dashed: RECIST +20 % and -30 %)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


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
    outcomes = measurement_outcomes(data)
    figure = os.environ.get("RADCYCLE_BENCH_ROBUST_FIGURE")
    if figure:
        curves_figure(outcomes, Path(figure))
    rep = repeatability(outcomes)
    title = "click-to-segment under perturbation (ratio: perturbed / baseline)"
    if rep:
        title += (
            f"; repeat-scan long-axis change over {rep['n']:.0f} outlines: median "
            f"{rep['median_mm']:.2f} mm / {rep['median_pct']:.1f} %, 95th percentile "
            f"{rep['p95_pct']:.1f} %, largest {rep['max_mm']:.2f} mm / {rep['max_pct']:.1f} %"
        )
    table = Table(title=title)
    for column in (
        "case",
        "perturbation",
        "Dice",
        "long axis mm",
        "ratio",
        "short axis mm",
        "ratio",
        "volume mL",
        "ratio",
        "category flips",
    ):
        table.add_column(column)
    for row in _rows(outcomes):
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
