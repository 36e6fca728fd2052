"""An analysis' outputs into one folder: what ``radcycle analyze`` writes, and each
patient of ``radcycle batch analyze``.

:func:`deterministic_outputs` builds the facts, the deterministic report and the
findings document; :func:`write_outputs` writes them, the charts and the exports
(:func:`~radcycle.pipeline.exports.write_exports`) into a folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from radcycle.pipeline.analysis import PatientAnalysis
from radcycle.pipeline.exports import charts, write_exports
from radcycle.pipeline.facts import build_facts
from radcycle.pipeline.findings import findings_document
from radcycle.reporting.report import Report
from radcycle.reporting.writer import write_report

__all__ = ["deterministic_outputs", "write_outputs"]


def deterministic_outputs(
    analysis: PatientAnalysis, generated: str
) -> tuple[Report, dict[str, Any]]:
    """The deterministic report and the findings document of an analysis.

    Args:
        analysis: what :func:`~radcycle.pipeline.analysis.analyze_patient` returned.
        generated: the ISO 8601 time written into both.
    """
    facts = build_facts(analysis)
    report = write_report(facts, analysis.patient_id, generated)
    return report, findings_document(analysis, facts, generated)


def write_outputs(
    analysis: PatientAnalysis,
    report: Report,
    findings: dict[str, Any],
    folder: Path,
) -> tuple[list[str], list[str]]:
    """Write every output of an analysis into ``folder``.

    Returns:
        The file names written, and warnings for exports left out.
    """
    document = report.to_dict()
    text = report.to_text()
    (folder / "findings.json").write_text(json.dumps(findings, indent=2))
    (folder / "report.json").write_text(json.dumps(document, indent=2))
    (folder / "report.txt").write_text(text)
    for name, png in charts(analysis).items():
        file = "trajectories.png" if name.startswith("Lesion") else "waterfall.png"
        (folder / file).write_bytes(png)
    warnings = write_exports(analysis, document, text, report.facts, folder)
    return sorted(p.name for p in folder.iterdir()), warnings
