"""Image QC against what each shared real series is known to be.

For every shared CT series: the lungs, liver, pelvis and brain in the field of
view, and whether the aorta is enhanced, each found by :func:`radcycle.imaging.qc.assess`
against what the series is known to hold. Known from the series' descriptions
(chest sections, limb crops around a sarcoma) and, for the TotalSegmentator
examples, from the organ masks shipped with them (a model's output, not ground
truth: the aorta's median HU in its mask is 43 on ``example_ct`` and 151 on the
DICOM series, whose header says the contrast was APPLIED). "not judged" counts
apart: the field of view cuts the body's sides or shows no spine.

Run: ``.venv/bin/python -m benchmarks.run qc``. ``RADCYCLE_BENCH_QC_STS=N`` sets
how many sarcoma CTs to add (default all 23).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.table import Table

from benchmarks.bench_mining import shared_root
from radcycle.imaging.qc import assess
from radcycle.io import read_image

_CHEST = {"lungs": True, "pelvis": False, "brain": False}
_LIMB = {"lungs": False, "liver": False, "brain": False}

#: series -> what it is known to hold (absent keys: not known)
KNOWN: dict[str, dict[str, bool]] = {
    "totalsegmentator-example/example_ct.nii.gz": {
        "lungs": True,
        "liver": True,
        "pelvis": True,
        "brain": False,
        "enhanced": False,
    },
    "totalsegmentator-example/example_ct_sm.nii.gz": {
        "lungs": True,
        "liver": True,
        "pelvis": False,
        "brain": False,
        "enhanced": False,
    },
    "totalsegmentator-example/example_ct_dicom": {
        "lungs": False,
        "liver": True,
        "pelvis": False,
        "brain": False,
        "enhanced": True,
    },
    "ibsi/ibsi_1_ct_radiomics_phantom/dicom": {**_CHEST, "liver": False},
    "pyradiomics/lung1_image.nrrd": dict(_CHEST),
    "pyradiomics/lung2_image.nrrd": dict(_CHEST),
}
STS = int(os.environ.get("RADCYCLE_BENCH_QC_STS", "23"))


def _found(facts: dict[str, Any]) -> dict[str, bool | None]:
    covers = dict(facts.get("covers") or {})
    phase = facts.get("contrast_phase_from_image")
    covers["enhanced"] = None if phase is None else phase != "non-contrast"
    return covers


def rows(data: Path) -> tuple[list[list[str]], dict[str, list[int]]]:
    series = dict(KNOWN)
    root = data / "ibsi/ibsi_validation/nifti"
    for folder in sorted(p for p in root.iterdir() if p.is_dir())[:STS]:
        series[str((folder / "CT_image.nii.gz").relative_to(data))] = dict(_LIMB)
    out, tally = [], {}
    for path, known in series.items():
        facts = assess(read_image(data / path)).facts
        found = _found(facts)
        for what, expected in known.items():
            got = found.get(what)
            agree = "not judged" if got is None else ("yes" if got is expected else "NO")
            counts = tally.setdefault(what, [0, 0, 0])
            counts[0 if agree == "yes" else 1 if agree == "NO" else 2] += 1
            extra = f" (aorta {facts.get('aorta_hu')} HU)" if what == "enhanced" else ""
            out.append([path, what, str(expected), f"{got}{extra}", agree])
    return out, tally


def run(workdir: Path) -> Table:
    data = shared_root() / "data"
    found, tally = rows(data)
    table = Table(title="image QC against what each real series is known to be")
    for column in ("series", "fact", "expected", "found", "agree"):
        table.add_column(column)
    for row in found:
        table.add_row(*row)
    for what, (yes, no, unjudged) in tally.items():
        table.add_row("all", what, "", f"{yes} agree, {no} disagree", f"{unjudged} not judged")
    return table
