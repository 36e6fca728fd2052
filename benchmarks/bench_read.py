"""Reading a 512x512x300 CT series: radcycle vs SimpleITK vs a pydicom loop vs `cat`.

Each reader runs in a fresh process (best of 3, warm page cache) so peak memory
is its own. The files are written with shuffled names, 300 slices of 512x512
int16, so no reader can rely on file order.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from rich.table import Table

from benchmarks.common import measure_in_subprocess, ratio_table, time_command

SLICES = int(os.environ.get("RADCYCLE_BENCH_SLICES", "300"))


def write_series(folder: Path, slices: int = SLICES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    study, series = generate_uid(), generate_uid()
    names = list(range(slices))
    random.Random(0).shuffle(names)
    base = rng.normal(0, 20, size=(512, 512)).astype(np.int16) + 1000
    paths = []
    for k in range(slices):
        ds = Dataset()
        meta = FileMetaDataset()
        sop = generate_uid()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID = "1.2.3"
        ds.PatientID, ds.Modality = "BENCH", "CT"
        ds.ImagePositionPatient = [-250.0, -250.0, -300.0 + k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.7, 0.7]
        ds.SliceThickness = 1.0
        ds.Rows = ds.Columns = 512
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.InstanceNumber = k + 1
        ds.PixelData = np.roll(base, k, axis=0).tobytes()
        path = folder / f"IM{names[k]:05d}"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def run(workdir: Path) -> Table:
    folder = workdir / "series"
    paths = write_series(folder)
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
        f"Reading {len(paths)} slices of 512x512 int16 ({size_mb:.1f} MB), best of 3",
        [ours, itk, loop, cat],
        baseline="SimpleITK ImageSeriesReader",
        size_mb=size_mb,
    )
