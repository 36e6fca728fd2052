"""Snapshot of click-to-segment outlines: the gate of any change that must not move them.

A fixed set of clicks is outlined and, per click, the method, the quality, the
voxel count, a SHA-256 of the mask (its voxels packed in C order) and, where a
reference outline exists, the Dice against it are recorded:

* the reference cases of the lesion benchmark (:func:`benchmarks.bench_lung.segmentation_cases`:
  PAT1 GTV, pyradiomics lung1/lung2/brain1/breast1, STS_001/002/008 CT, T1 MR
  and PET) where the shared data folder is present: the click at the centre and
  ``RADCYCLE_SNAPSHOT_CLICKS`` (default 3) clicks well inside the reference
  (:func:`radcycle.imaging.masks.points_inside`, seed 0);
* every lesion of synthetic patient 0 (120 slices): at its centre and at one
  point 0.4 of its short semi-axis off it (generator seed 1).

``python -m benchmarks.outline_snapshot --out BEFORE.json`` writes a snapshot;
``--compare BEFORE.json`` also lists every click whose outline changed and
exits 1 if any did. ``python -m benchmarks.run outline-snapshot`` prints the
table with the Dice of each click.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from benchmarks.bench_lung import _seed_in, segmentation_cases
from benchmarks.bench_mining import shared_root
from radcycle.domain import Volume
from radcycle.errors import RadcycleError
from radcycle.imaging.masks import array_spacing, points_inside
from radcycle.imaging.segmentation import segment_at_seed
from radcycle.io import read_image
from radcycle.synth import generate_patient

__all__ = ["compare", "snapshot"]

CLICKS = int(os.environ.get("RADCYCLE_SNAPSHOT_CLICKS", "3"))


def _digest(mask: npt.NDArray[np.bool_]) -> str:
    return hashlib.sha256(np.packbits(np.ascontiguousarray(mask, dtype=bool)).tobytes()).hexdigest()


def _dice(got: npt.NDArray[np.bool_], ref: npt.NDArray[np.bool_]) -> float:
    total = float(got.sum() + ref.sum())
    return 2.0 * float((got & ref).sum()) / total if total else 0.0


def _outline(
    volume: Volume, point: tuple[float, float, float], ref: npt.NDArray[np.bool_] | None
) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        result = segment_at_seed(volume, point)
    except RadcycleError as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    got = np.asarray(result.mask.array, dtype=bool)
    row: dict[str, Any] = {
        "method": result.method,
        "quality": str(result.quality),
        "voxels": int(got.sum()),
        "sha256": _digest(got),
        "seconds": round(seconds, 3),
    }
    if ref is not None:
        row["dice"] = round(_dice(got, ref), 4)
    return row


def _point(volume: Volume, kji: tuple[int, int, int]) -> tuple[float, float, float]:
    p = volume.index_to_patient([[kji[2], kji[1], kji[0]]])[0]
    return (float(p[0]), float(p[1]), float(p[2]))


def snapshot(data: Path | None = None, clicks: int = CLICKS) -> dict[str, dict[str, Any]]:
    """The outline of every click of the fixed set, keyed ``case / click``."""
    rows: dict[str, dict[str, Any]] = {}
    root = data if data is not None else shared_root() / "data"
    if root.is_dir():
        for name, image, mask, modality in segmentation_cases():
            if not (root / image).exists():
                continue
            volume = read_image(root / image)
            volume = volume.with_array(volume.array, modality=modality)
            ref = np.asarray(read_image(root / mask).array > 0)
            points = [("centre", _seed_in(ref))]
            inside = points_inside(ref, array_spacing(volume), clicks)
            points += [(f"off{n}", kji) for n, kji in enumerate(inside)]
            for label, kji in points:
                rows[f"{name} / {label}"] = _outline(volume, _point(volume, kji), ref)
    rng = np.random.default_rng(1)
    tp = generate_patient(0, timepoints=1, slices=120).timepoints[0]
    for n, lesion in enumerate(tp.lesions):
        if lesion["status"] == "vanished":
            continue
        centre = np.asarray(lesion["centre_mm"], dtype=np.float64)
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        off = centre + 0.4 * 0.5 * lesion["short_axis_mm"] * direction
        for label, point in (("centre", centre), ("off", off)):
            xyz = (float(point[0]), float(point[1]), float(point[2]))
            rows[f"synthetic 0 lesion {n} / {label}"] = _outline(tp.volume, xyz, None)
    return rows


_SAME = ("method", "quality", "voxels", "sha256", "error")


def compare(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    """The clicks whose outline, method, quality or error differ, with how."""
    changed = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a is None or b is None:
            changed.append(f"{key}: only in {'after' if a is None else 'before'}")
            continue
        diffs = [f"{f} {a.get(f)} -> {b.get(f)}" for f in _SAME if a.get(f) != b.get(f)]
        if diffs:
            changed.append(f"{key}: " + "; ".join(diffs))
    return changed


def table(rows: dict[str, dict[str, Any]]) -> Table:
    out = Table(title=f"Outline snapshot: {len(rows)} clicks")
    for column in ("click", "method", "quality", "voxels", "Dice", "s", "sha256"):
        out.add_column(column, justify="left" if column in ("click", "method") else "right")
    for key, row in rows.items():
        out.add_row(
            key,
            row.get("method", row.get("error", "")),
            row.get("quality", ""),
            str(row.get("voxels", "")),
            f"{row['dice']:.3f}" if "dice" in row else "",
            f"{row['seconds']:.2f}",
            row.get("sha256", "")[:12],
        )
    return out


def run(workdir: Path) -> Table:
    """``python -m benchmarks.run outline-snapshot``."""
    return table(snapshot())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.outline_snapshot")
    parser.add_argument("--out", type=Path, help="write the snapshot here (JSON)")
    parser.add_argument("--compare", type=Path, help="a snapshot to compare against")
    args = parser.parse_args(argv)
    rows = snapshot()
    console = Console()
    console.print(table(rows))
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
    if args.compare is not None:
        changed = compare(json.loads(args.compare.read_text()), rows)
        for line in changed:
            console.print(line)
        console.print(f"{len(changed)} of {len(rows)} outlines changed")
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
