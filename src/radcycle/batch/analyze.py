"""Analysis of an archive, one patient folder per item.

Each entry directly under ``IN`` (not hidden) is one patient: every image series
under it is read as that patient's studies, and a ``fhir_bundle.json`` directly in
it (as ``radcycle synth`` writes it) is the FHIR record. Each item's task runs
:func:`radcycle.pipeline.analysis.analyze_patient` (what ``radcycle analyze``
runs) and writes the same files, with the deterministic report::

    OUT/item-<n>/findings.json, report.json, report.txt, ...

Items are named by their number, never by the input folder's name (often a
patient's name or identifier); the run folder's manifest maps items to inputs.
An item is written into ``OUT/.staging/item-<n>`` and renamed into place whole;
it counts as done only once the manifest records it, with its outputs' checksum.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from radcycle.batch.deid import STAGING_DIR
from radcycle.batch.executors import TaskResult
from radcycle.pipeline.analysis import AnalysisInputs, analyze_patient
from radcycle.pipeline.publish import deterministic_outputs, write_outputs

__all__ = ["FHIR_NAME", "analyze_task", "patient_inputs"]

FHIR_NAME = "fhir_bundle.json"


def patient_inputs(folder: Path) -> AnalysisInputs:
    """The analysis inputs of one patient folder: its studies and its FHIR bundle, if any.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / FHIR_NAME).write_text("{}")
        ...     inputs = patient_inputs(Path(tmp))
        ...     inputs.studies == (Path(tmp),), inputs.fhir == Path(tmp) / FHIR_NAME
        (True, True)
    """
    bundle = folder / FHIR_NAME
    return AnalysisInputs((folder,), bundle if bundle.is_file() else None)


def analyze_task(payload: dict[str, Any], params: dict[str, str]) -> TaskResult:
    """One patient folder: the single command's analysis, renamed whole into ``OUT/item-<n>``."""
    out = Path(params["out"])
    name = str(payload["name"])
    staging = out / STAGING_DIR / name
    shutil.rmtree(staging, ignore_errors=True)  # what a killed attempt left
    analysis = analyze_patient(patient_inputs(Path(payload["path"])))
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    report, findings = deterministic_outputs(analysis, generated)
    staging.mkdir(parents=True)
    try:
        names, warnings = write_outputs(analysis, report, findings, staging)
        target = out / name
        shutil.rmtree(target, ignore_errors=True)  # an attempt killed before it was recorded
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary = {
        "lesions": len(analysis.lesions),
        "studies": len(analysis.follow.scans),
        "warnings": len(warnings),
    }
    return TaskResult([f"{name}/{n}" for n in names], summary)
