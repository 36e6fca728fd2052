"""Reading a 512x512x300 CT series: radcycle vs SimpleITK vs a pydicom loop vs `cat`.

Each reader runs in a fresh process (best of 3, warm page cache) so peak memory
is its own. The series is a synthetic chest CT time point (``radcycle synth``): 300 slices
of 512x512, 12 bits stored in 16, named by SOP Instance UID, so no reader can
rely on file order and every reader must mask the unused bits and rescale.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.table import Table

from benchmarks.common import measure_in_subprocess, ratio_table, time_command
from radcycle.synth import generate_patient, write_patient

SLICES = int(os.environ.get("RADCYCLE_BENCH_SLICES", "300"))


def write_series(workdir: Path, slices: int = SLICES) -> Path:
    """One synthetic chest CT time point: 512x512 x ``slices``, UID-named files."""
    patient = generate_patient(1, timepoints=1, slices=slices)
    write_patient(patient, workdir / "patient")
    return workdir / "patient" / patient.timepoints[0].folder


def run(workdir: Path) -> Table:
    folder = write_series(workdir)
    paths = sorted(folder.iterdir())
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    files = " ".join(str(p) for p in sorted(paths))
    cat = time_command(
        "cat > /dev/null (page-cache limit)", ["sh", "-c", f"cat {files} > /dev/null"]
    )
    ours = measure_in_subprocess(
        "radcycle read_image",
        "from radcycle.io import read_image",
        f"v = read_image({str(folder)!r})",
    )
    itk = measure_in_subprocess(
        "SimpleITK ImageSeriesReader",
        "import SimpleITK as sitk",
        f"r = sitk.ImageSeriesReader(); r.SetFileNames(r.GetGDCMSeriesFileNames({str(folder)!r}));"
        " a = sitk.GetArrayFromImage(r.Execute())",
    )
    loop = measure_in_subprocess(
        "pydicom loop (sort by position)",
        "import glob, numpy as np, pydicom",
        f"ds = [pydicom.dcmread(f) for f in glob.glob({str(folder)!r} + '/*')];"
        " ds.sort(key=lambda d: float(d.ImagePositionPatient[2]));"
        " a = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)"
        " for d in ds])",
    )
    ours.note = f"{ours.seconds / cat.seconds:.1f}x the cat time"
    return ratio_table(
        f"Reading {len(paths)} slices of 512x512 ({size_mb:.1f} MB), best of 3",
        [ours, itk, loop, cat],
        baseline="SimpleITK ImageSeriesReader",
        size_mb=size_mb,
    )
