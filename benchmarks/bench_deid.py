"""De-identification: radcycle vs dicognito and deid (pydicom-deid), speed and leaks.

Speed: files per second de-identifying N synthetic CT slices (64x64 int16, ten
patients, identifiers planted in names, IDs, dates, a nested sequence, a private
tag and the series description), N = ``$RADCYCLE_BENCH_DEID_FILES`` (default
10,000). Every contender runs on 2 worker processes over the same files, read
from and written to the same disk; dicognito's own command line (one process) is
timed as well. Leaks: our checker (``check_tree`` with the originals) on each
output; and, where the shared data is present, file by file on the
dicom-conformance set (each output against its own original's identifiers).
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from rich.table import Table

from radcycle.privacy.batch import deidentify_tree, iter_files, read_dicom
from radcycle.privacy.check import Needles, check_dataset, check_tree
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.phi import lenient
from radcycle.privacy.profile import DeidOptions

FILES = int(os.environ.get("RADCYCLE_BENCH_DEID_FILES", "10000"))
WORKERS = 2
MATRIX = 64
PATIENTS = 10
OPTIONS = DeidOptions(dates="modified")
KEY = DeidKey(bytes(range(32)))
FAMILY = (
    "Quarrington",
    "Vandersloot",
    "Oyelaran",
    "Brackwell",
    "Fennimore",
    "Halloran",
    "Iversby",
    "Kettleburn",
    "Lindqvist",
    "Marchetti",
)


def write_ct_slices(folder: Path, n: int) -> list[Path]:
    """``n`` CT slices of ten patients with planted identifiers (fixed seed)."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(0).integers(0, 2000, (MATRIX, MATRIX), dtype=np.int16).tobytes()
    per_patient = max(1, n // PATIENTS)
    paths = []
    for k in range(n):
        p = min(k // per_patient, PATIENTS - 1)
        ds = _slice(p, k, pixels)
        path = folder / f"{FAMILY[p]}_{k:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _slice(p: int, k: int, pixels: bytes) -> Dataset:
    root = f"1.2.826.0.1.3680043.9.7777.{p + 1}"
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = f"{root}.1.1.{k + 1}"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, f"{root}.1.1.{k + 1}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = f"{root}.1", f"{root}.1.1"
    ds.FrameOfReferenceUID = f"{root}.1.9"
    ds.PatientName = f"{FAMILY[p]}^Philomena"
    ds.PatientID = f"MRN-{880000 + p}"
    ds.PatientBirthDate = f"19{50 + p}0317"
    ds.PatientSex = "F"
    ds.AccessionNumber = f"ACC{99000 + p}"
    ds.InstitutionName = "Hopital Fictif Sainte Zoe"
    ds.ReferringPhysicianName = "Okonkwo^Theodora"
    ds.OperatorsName = "Pemberton^Ulric"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = f"2023{1 + p:02d}14"
    ds.StudyTime = "101530"
    ds.StudyID = f"S{p}77"
    ds.Modality, ds.Manufacturer = "CT", "ACME"
    ds.SeriesDescription = f"CT chest {FAMILY[p]} follow-up"
    request = Dataset()
    request.RequestedProcedureID = ds.PatientID
    ds.RequestAttributesSequence = [request]
    block = ds.private_block(0x0011, "ACME PRIVATE 1.0", create=True)
    block.add_new(0x10, "LO", str(ds.PatientName))
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImagePositionPatient = [-100.0, -100.0, float(k % 1000)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.SliceThickness = [0.75, 0.75], 1.0
    ds.Rows = ds.Columns = MATRIX
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.InstanceNumber = k + 1
    ds.PixelData = pixels
    return ds


# ---- contenders: each de-identifies a list of files into a folder ----------------


def _dicognito_chunk(args: tuple[list[Path], Path]) -> int:
    from dicognito.anonymizer import Anonymizer

    files, out = args
    anonymizer = Anonymizer(seed="radcycle-bench")  # seeded: consistent across processes
    done = 0
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path)
                anonymizer.anonymize(ds)
                ds.save_as(out / f"{ds.SOPInstanceUID}.dcm")  # as its command line names files
            done += 1
        except Exception:  # a peer failing on a file counts as a failure, not a crash
            continue
    return done


def _deid_chunk(args: tuple[list[Path], Path]) -> int:
    from deid.config import DeidRecipe
    from deid.dicom import replace_identifiers

    files, out = args
    logging.getLogger("deid").setLevel(logging.ERROR)
    done = 0
    for path in files:
        target = out / f"{os.getpid()}-{done}"
        target.mkdir(parents=True, exist_ok=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                replace_identifiers(
                    dicom_files=[str(path)],
                    deid=DeidRecipe(),
                    save=True,
                    output_folder=str(target),
                    remove_private=True,
                )
            done += 1
        except Exception:  # as above
            continue
    return done


def _parallel(chunk: Callable[[tuple[list[Path], Path]], int], files: list[Path], out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    parts = [files[i :: WORKERS * 4] for i in range(WORKERS * 4)]
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        return sum(pool.map(chunk, [(part, out) for part in parts if part]))


def _ours(files: list[Path], src: Path, out: Path) -> int:
    return deidentify_tree(src, out, KEY, OPTIONS, workers=WORKERS).count("written")


def _dicognito_cli(files: list[Path], src: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "dicognito",
        "--quiet",
        "--seed",
        "radcycle-bench",
        "--output-directory",
        str(out),
        str(src),
    ]
    subprocess.run(argv, check=True, capture_output=True)
    return sum(1 for _ in out.rglob("*.dcm"))


# name -> (runner, most files it is timed on). deid runs about 15 files/s, so it is
# timed on the first 1,000 files only (its rate, not its total, is compared).
CONTENDERS: dict[str, tuple[Callable[[list[Path], Path, Path], int], int]] = {
    "radcycle deid (2 processes)": (_ours, FILES),
    "dicognito (2 processes)": (lambda f, s, o: _parallel(_dicognito_chunk, f, o), FILES),
    "dicognito CLI (1 process)": (_dicognito_cli, FILES),
    "deid (2 processes)": (lambda f, s, o: _parallel(_deid_chunk, f, o), 1000),
}
BASELINE = "dicognito (2 processes)"


def _conformance_leaks(name: str, workdir: Path) -> tuple[int, int, int]:
    """(original identifiers found, profile findings, files failed) on dicom-conformance."""
    shared = Path(os.environ.get("RADCYCLE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    src = shared / "data" / "dicom-conformance"
    if not src.is_dir():
        return (-1, -1, -1)
    out = workdir / f"conf-{len(name)}"
    found = profile = failed = 0
    with lenient():
        for index, path in enumerate(iter_files(src)):
            try:
                original = read_dicom(path)
            except Exception:
                continue  # not an instance: nobody de-identifies it
            target = out / str(index)
            produced = _one(name, path, src, target)
            if produced is None:
                failed += 1
                continue
            needles = Needles()
            needles.add(original)
            for leak in check_dataset(pydicom.dcmread(produced, force=True), path.name, needles):
                if leak.kind.startswith("original"):
                    found += 1
                else:
                    profile += 1
    return found, profile, failed


def _one(name: str, path: Path, src: Path, target: Path) -> Path | None:
    target.mkdir(parents=True, exist_ok=True)
    if name.startswith("radcycle"):
        from radcycle.privacy.batch import deidentify_file

        record = deidentify_file(path, src, target, KEY, OPTIONS)
        staged = target / record.staged if record.staged else None
        return staged if staged is not None and staged.is_file() else None
    chunk = _deid_chunk if name.startswith("deid") else _dicognito_chunk
    if chunk(([path], target)) == 0:
        return None
    produced = [p for p in target.rglob("*") if p.is_file()]
    return produced[0] if produced else None


def run(workdir: Path) -> Table:
    src = workdir / "originals"
    files = write_ct_slices(src, FILES)
    table = Table(
        title=f"De-identifying {FILES} CT slices ({MATRIX}x{MATRIX}), {WORKERS} processes"
    )
    for column in (
        "contender",
        "files",
        "wall s",
        "files/s",
        f"speed vs {BASELINE}",
        "CPU ms/file",
        "CPU speed vs baseline",
        "original ids found (CT)",
        "profile findings (CT)",
        "original ids found (conformance)",
        "profile findings (conformance)",
        "failed (conformance)",
    ):
        table.add_column(column, justify="left" if column == "contender" else "right")
    rows = []
    for name, (contender, most) in CONTENDERS.items():
        out = workdir / f"out-{len(rows)}"
        subset = files[:most]
        source = src
        if len(subset) < len(files):
            source = workdir / "subset"
            source.mkdir(exist_ok=True)
            for path in subset:
                os.link(path, source / path.name)
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        written = contender(subset, source, out)
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
        report = check_tree(out, source)
        found = sum(1 for x in report.leaks if x.kind.startswith("original"))
        rows.append(
            (
                name,
                written,
                seconds,
                cpu,
                found,
                len(report.leaks) - found,
                _conformance_leaks(name, workdir),
            )
        )
        shutil.rmtree(out, ignore_errors=True)
    base = next(r for r in rows if r[0] == BASELINE)
    for name, written, seconds, cpu, found, profile, conf in rows:
        rate, cpu_ms = written / seconds, 1000 * cpu / max(written, 1)
        table.add_row(
            name,
            str(written),
            f"{seconds:.1f}",
            f"{rate:.0f}",
            f"{rate / (base[1] / base[2]):.2f}x",
            f"{cpu_ms:.2f}",
            f"{(1000 * base[3] / base[1]) / cpu_ms:.2f}x",
            str(found),
            str(profile),
            *(str(v) if v >= 0 else "n/a" for v in conf),
        )
    return table


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (workers, command lines).

    On a shared machine wall time depends on the neighbours; CPU time per file
    does not, so both are reported.
    """
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
