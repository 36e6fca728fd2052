"""Write a synthetic patient to a folder: DICOM series, ``truth.json``, ``fhir_bundle.json``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from radcycle.errors import ExportError
from radcycle.synth.dicom_writer import CTSeriesHeader, write_ct_series
from radcycle.synth.fhir import build_bundle
from radcycle.synth.patient import SyntheticPatient

__all__ = ["write_patient"]

log = logging.getLogger(__name__)


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

    Args:
        patient: from :func:`~radcycle.synth.generate_patient`.
        out_dir: created if missing.
        progress: called with 1 after each DICOM file is written.

    Raises:
        ExportError: a file or folder cannot be written.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the output folder: {exc.strerror}", path=out) from exc
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
