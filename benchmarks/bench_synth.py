"""Synthetic patient: generating and writing a 512x512x300 chest CT (one time point).

Rows: radcycle's whole ``generate_patient`` + ``write_patient``; its two halves;
a plain pydicom loop writing the same volume (deep copy of a template dataset per
slice, one thread: the baseline for the writer); and ``cp -r`` of the written
series (the file-system floor for writing those bytes).
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from benchmarks.common import Measurement, measure_in_subprocess, ratio_table, time_command

SLICES = 300

_SETUP_PATIENT = f"""
import shutil
from pathlib import Path
from radcycle.synth import generate_patient, write_patient
patient = generate_patient(1, timepoints=1, slices={SLICES})
"""

_SETUP_BASELINE = (
    _SETUP_PATIENT
    + """
import copy
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
vol = patient.timepoints[0].volume
stored = (vol.array.astype(np.int32) + 1024).astype('<u2')
template = Dataset()
template.SOPClassUID = CTImageStorage
template.Modality = 'CT'
template.PatientID = patient.patient.patient_id
template.StudyInstanceUID = generate_uid()
template.SeriesInstanceUID = generate_uid()
template.Rows, template.Columns = stored.shape[1:]
template.BitsAllocated = template.BitsStored = 16
template.HighBit = 15
template.PixelRepresentation = 0
template.SamplesPerPixel = 1
template.PhotometricInterpretation = 'MONOCHROME2'
template.PixelSpacing = [str(vol.spacing[1]), str(vol.spacing[0])]
template.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
template.RescaleIntercept, template.RescaleSlope = '-1024', '1'

def plain_loop(out):
    out.mkdir(parents=True, exist_ok=True)
    for k in range(len(stored)):
        ds = copy.deepcopy(template)
        ds.SOPInstanceUID = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [str(v) for v in vol.index_to_patient([[0, 0, k]])[0]]
        ds.PixelData = stored[k].tobytes()
        ds.save_as(out / f'{k}.dcm', enforce_file_format=True)
"""
)


def run(workdir: Path) -> Table:
    """Time each row in a fresh process (best of 2) and tabulate against the baseline."""
    out = workdir / "out"
    rows: list[Measurement] = [
        measure_in_subprocess(
            "radcycle generate + write",
            "import shutil\nfrom radcycle.synth import generate_patient, write_patient",
            f"p = generate_patient(1, timepoints=1, slices={SLICES}); "
            f"shutil.rmtree({str(out)!r}, ignore_errors=True); write_patient(p, {str(out)!r})",
            repeat=2,
        ),
        measure_in_subprocess(
            "radcycle generate only",
            "from radcycle.synth import generate_patient",
            f"generate_patient(1, timepoints=1, slices={SLICES})",
            repeat=2,
        ),
        measure_in_subprocess(
            "radcycle write only",
            _SETUP_PATIENT,
            f"shutil.rmtree({str(out)!r}, ignore_errors=True); "
            f"write_patient(patient, {str(out)!r})",
            repeat=2,
        ),
        measure_in_subprocess(
            "pydicom loop write",
            _SETUP_BASELINE,
            f"shutil.rmtree({str(workdir / 'plain')!r}, ignore_errors=True); "
            f"plain_loop(Path({str(workdir / 'plain')!r}))",
            repeat=2,
        ),
    ]
    copy_row = time_command(
        "cp -r (file-system floor)", ["cp", "-r", str(out), str(workdir / "copy")], 1
    )
    rows.append(copy_row)
    size_mb = sum(p.stat().st_size for p in out.rglob("*.dcm")) / 1e6
    for row in rows:
        if "write" in row.name or row.name.startswith("cp"):
            row.note = f"{size_mb:.0f} MB of DICOM"
    return ratio_table(
        f"synthetic patient, 512x512x{SLICES} (one time point)", rows, baseline="pydicom loop write"
    )
