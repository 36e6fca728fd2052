"""Write a synthetic patient to a folder: DICOM series, ``truth.json``, ``fhir_bundle.json``."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from radcycle.errors import ExportError
from radcycle.synth.dicom_writer import CTSeriesHeader, write_ct_series
from radcycle.synth.fhir import build_bundle
from radcycle.synth.patient import SyntheticPatient

__all__ = ["write_patient"]

log = logging.getLogger(__name__)

_JSON_FILES = ("truth.json", "fhir_bundle.json")
_TP_FOLDER = re.compile(r"^tp\d+_\d{8}$")


def _is_previous_output(entry: Path) -> bool:
    """Whether ``entry`` looks like something :func:`write_patient` wrote."""
    if entry.is_file():
        return entry.name in _JSON_FILES
    if entry.is_dir() and _TP_FOLDER.match(entry.name):
        return all(child.is_file() and child.suffix == ".dcm" for child in entry.iterdir())
    return False


def _clear_previous(out: Path) -> None:
    """Remove an earlier synthetic patient from ``out``; refuse to touch anything else."""
    entries = sorted(out.iterdir())
    foreign = [e.name for e in entries if not _is_previous_output(e)]
    if foreign:
        raise ExportError(
            "the output folder holds files that radcycle synth did not write; "
            "choose an empty or new folder",
            path=out,
            value=foreign[:5],
        )
    try:
        for entry in entries:
            if entry.is_dir():
                for child in entry.iterdir():
                    child.unlink()
                entry.rmdir()
            else:
                entry.unlink()
    except OSError as exc:
        raise ExportError(f"cannot replace the earlier output: {exc.strerror}", path=out) from exc


def _dump(path: Path, document: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"cannot write: {exc.strerror}", path=path) from exc


def write_patient(
    patient: SyntheticPatient,
    out_dir: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write ``patient`` under ``out_dir`` and return ``out_dir``.

    Layout: ``truth.json``, ``fhir_bundle.json`` and one folder of DICOM files per
    time point (``tp0_YYYYMMDD/``, ...). The same patient gives the same bytes.
    An earlier synthetic patient in ``out_dir`` is replaced (so no stale series
    stay behind); a folder holding anything else is refused.

    Args:
        patient: from :func:`~radcycle.synth.generate_patient`.
        out_dir: created if missing.
        progress: called with 1 after each DICOM file is written.

    Raises:
        ExportError: a file or folder cannot be written, or ``out_dir`` holds files
            that are not an earlier synthetic patient.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError("the output path exists and is not a folder", path=out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the output folder: {exc.strerror}", path=out) from exc
    _clear_previous(out)
    for tp in patient.timepoints:
        header = CTSeriesHeader(
            patient=patient.patient,
            study_instance_uid=tp.study_instance_uid,
            series_instance_uid=tp.series_instance_uid,
            frame_of_reference_uid=tp.frame_of_reference_uid,
            study_date=tp.date,
            accession_number=tp.accession_number,
            study_id=str(tp.index + 1),
            series_description=f"CHEST {tp.volume.spacing[2]:g} mm",
        )
        paths = write_ct_series(tp.volume, out / tp.folder, header, progress=progress)
        log.info("wrote %d slices to %s", len(paths), out / tp.folder)
    _dump(out / "truth.json", patient.truth())
    _dump(out / "fhir_bundle.json", build_bundle(patient))
    return out
