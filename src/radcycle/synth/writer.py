"""Write a synthetic patient to a folder: DICOM series, ``truth.json``, ``fhir_bundle.json``."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

from radcycle.errors import ExportError, UnsafeOutputError
from radcycle.io.output import OutputFolder, OutputRules
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


def _clear_previous(out: Path, force: bool) -> None:
    """Remove an earlier synthetic patient from ``out`` with ``force``; never anything else."""
    entries = sorted(out.iterdir())
    if not entries:
        return
    foreign = [e.name for e in entries if not _is_previous_output(e)]
    if foreign:
        raise UnsafeOutputError(
            "the output folder holds files that radcycle synth did not write; "
            "choose an empty or new folder",
            path=out,
            value=foreign[:5],
        )
    if not force:
        raise UnsafeOutputError(
            "the output folder holds an earlier synthetic patient; use --force to replace it",
            path=out,
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


def write_patient(
    patient: SyntheticPatient,
    out_dir: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
) -> Path:
    """Write ``patient`` under ``out_dir`` and return ``out_dir``.

    Layout: ``truth.json``, ``fhir_bundle.json`` and one folder of DICOM files per
    time point (``tp0_YYYYMMDD/``, ...). The same patient gives the same bytes.
    An earlier synthetic patient in ``out_dir`` is replaced with ``force`` (so no
    stale series stay behind), else refused; a folder holding anything else is
    always refused.

    Args:
        patient: from :func:`~radcycle.synth.generate_patient`.
        out_dir: created if missing.
        progress: called with 1 after each DICOM file is written.
        force: replace an earlier synthetic patient.

    Raises:
        ExportError: a file or folder cannot be written.
        UnsafeOutputError: ``out_dir`` is a file, holds files that are not an
            earlier synthetic patient, or (without ``force``) an earlier one.
    """
    folder = OutputFolder(Path(out_dir), OutputRules(force=force))
    out = folder.root
    _clear_previous(out, force)
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
        paths = write_ct_series(tp.volume, folder.path(tp.folder), header, progress=progress)
        log.info("wrote %d slices to %s", len(paths), out / tp.folder)
    folder.write("truth.json", json.dumps(patient.truth(), indent=2) + "\n")
    folder.write("fhir_bundle.json", json.dumps(build_bundle(patient), indent=2) + "\n")
    return out
