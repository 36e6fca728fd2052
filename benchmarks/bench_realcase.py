"""Follow-up of a real CT with a limited field of view: categories, long axis, registration.

The IBSI 1 CT phantom PAT1 (a real lung-cancer CT that shows only part of the
right chest, with its tumour outline) is the baseline of four cases built by
:func:`radcycle.synth.realcase.pat1_cases`: the scenario (tumour shrunk to 0.6
of its diameter, then grown to 1.3, the patient moved a few millimetres and
degrees each time; truth PR then PD) and three partial fields of view (upper
chest, lateral lung without mediastinum and spine, the view moved caudally so
part of the tumour is outside; truth NE there).

Each case is written as DICOM CT series with study dates and followed by
``radcycle follow ... --lesion X,Y,Z:lung --json`` (the tumour given at its
baseline centre), exactly as a user would. Contender: the default registration
(lungs where both scans show them, the intensity path otherwise). Baseline: the
same command with the lung-driven registration forced
(``--registration lungs``), i.e. what follow-up did before the
intensity path existed. Per time point: the true and reported RECIST category,
the long axis against the truth, and the registration's path and measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from benchmarks.common import Measurement, ratio_table
from radcycle.io import read_image
from radcycle.synth.realcase import RealCase, pat1_cases, write_case

_SHARED = Path(os.environ.get("RADCYCLE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
PAT1 = _SHARED / "data" / "ibsi" / "ibsi_1_ct_radiomics_phantom" / "nifti"


def _follow(folders: list[Path], case: RealCase, path: str) -> tuple[dict[str, Any], float]:
    x, y, z = case.lesion_mm
    argv = [sys.executable, "-m", "radcycle.cli.main", "follow", *map(str, folders)]
    argv += [f"--lesion={x},{y},{z}:lung", "--json", "--registration", path]
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1]}, seconds
    document: dict[str, Any] = json.loads(done.stdout)
    return document, seconds


def _rows(case: RealCase, document: dict[str, Any]) -> list[dict[str, Any]]:
    if "error" in document:
        return [
            {"t": t, "truth": s.category, "ours": "error", "note": document["error"]}
            for t, s in enumerate(case.scans[1:], start=1)
        ]
    lesion = document["lesions"][0] if document["lesions"] else {"points": []}
    sizes = {p["timepoint"]: p.get("diameter_mm") for p in lesion["points"]}
    out = []
    for t, scan in enumerate(case.scans[1:], start=1):
        reg = document["scans"][t]["registration_to_baseline"] or {}
        d = reg.get("details", {})
        measured = sizes.get(t)
        error = None
        if measured is not None and scan.category != "NE":
            error = 100.0 * (measured - scan.long_axis_mm) / scan.long_axis_mm
        out.append(
            {
                "t": t,
                "truth": scan.category,
                "ours": document["recist"]["timepoints"][t - 1]["category"],
                "long_axis_truth": scan.long_axis_mm,
                "long_axis": measured,
                "error_pct": error,
                "inside_pct": 100.0 * scan.inside_fraction,
                "path": reg.get("path"),
                "failed": reg.get("failed"),
                "measures": (
                    f"NCC {d.get('ncc', float('nan')):.2f}, bone Dice "
                    f"{d.get('bone_dice', float('nan')):.2f}, overlap "
                    f"{100 * d.get('overlap_fraction', float('nan')):.0f}%"
                    if reg.get("path") == "intensity"
                    else f"lung/air Dice {reg.get('lung_dice', float('nan')):.2f}"
                ),
            }
        )
    return out


def evaluate(
    workdir: Path, path: str = "auto"
) -> list[tuple[RealCase, list[dict[str, Any]], float]]:
    """Build, write and follow every case; per case its rows and the wall time."""
    image = read_image(PAT1 / "image" / "phantom.nii.gz")
    mask = np.asarray(read_image(PAT1 / "mask" / "mask.nii.gz").array) > 0
    results = []
    for case in pat1_cases(image, mask):
        folders = write_case(case, workdir / case.name)
        document, seconds = _follow(folders, case, path)
        results.append((case, _rows(case, document), seconds))
    return results


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def run(workdir: Path) -> Table:
    if not PAT1.is_dir():
        table = Table(title="realcase")
        table.add_column("skipped")
        table.add_row(f"the IBSI PAT1 CT is absent ({PAT1}); set RADCYCLE_SHARED")
        return table
    ours = evaluate(workdir / "auto", "auto")
    lungs = evaluate(workdir / "lungs", "lungs")
    detail = Table(title="PAT1 follow-up cases: RECIST per time point (--lesion at the tumour)")
    for name in (
        "case",
        "t",
        "truth",
        "ours",
        "lungs only",
        "long axis truth mm",
        "ours mm",
        "error %",
        "tumour in view %",
        "registration",
        "measures",
    ):
        detail.add_column(name)
    right = {"ours": 0, "lungs": 0}
    total = 0
    for (case, rows, _), (_, old_rows, _) in zip(ours, lungs, strict=True):
        for row, old in zip(rows, old_rows, strict=True):
            total += 1
            right["ours"] += row["ours"] == row["truth"]
            right["lungs"] += old["ours"] == old["truth"]
            detail.add_row(
                case.name,
                str(row["t"]),
                str(row["truth"]),
                str(row["ours"]),
                str(old["ours"]),
                _fmt(row.get("long_axis_truth"), ".1f"),
                _fmt(row.get("long_axis"), ".1f"),
                _fmt(row.get("error_pct"), "+.1f"),
                _fmt(row.get("inside_pct"), ".0f"),
                f"{row.get('path')}" + (" FAILED" if row.get("failed") else ""),
                str(row.get("measures", row.get("note", ""))),
            )
    from rich.console import Console

    Console(width=200).print(detail)
    return ratio_table(
        "PAT1 cases followed from the CLI (wall s for all four cases)",
        [
            Measurement(
                "radcycle follow (lungs, else intensity)",
                sum(s for _, _, s in ours),
                None,
                f"{right['ours']}/{total} categories right",
            ),
            Measurement(
                "radcycle follow, lung-driven registration only",
                sum(s for _, _, s in lungs),
                None,
                f"{right['lungs']}/{total} categories right",
            ),
        ],
        baseline="radcycle follow, lung-driven registration only",
    )
