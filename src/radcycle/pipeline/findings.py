"""``findings.json``: the analysis as data (schema in ``reporting/findings.schema.json``).

Lesions carry their tracking identifiers and, per time point, ``long_axis_mm``,
``short_axis_mm``, ``volume_mm3`` and the change from baseline and nadir; each
lesion also lists its :class:`~radcycle.domain.Measurement` records with their
structured provenance. Per time point: RECIST 1.1 (or iRECIST), Lung-RADS v2022
and Fleischner 2017. ``facts`` are what the report's sentences cite and what
``radcycle verify`` checks text against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from radcycle.domain import Fact, Lesion
from radcycle.longitudinal.trajectories import Trajectory
from radcycle.pipeline.analysis import PatientAnalysis
from radcycle.pipeline.scans import image_reference
from radcycle.reporting.report import DRAFT_STATUS

__all__ = ["FINDINGS_SCHEMA_VERSION", "findings_document"]

#: 2: RECIST targets and non-targets cite their image, algorithm and fragments as
#: structured records (version 1 had a prose ``source`` text).
FINDINGS_SCHEMA_VERSION = "2"


def _lesion(lesion: Lesion, traj: Trajectory) -> dict[str, Any]:
    points = [
        {
            "date": p.date.isoformat(),
            "status": p.status,
            "long_axis_mm": p.long_axis_mm,
            "short_axis_mm": p.short_axis_mm,
            "volume_mm3": p.volume_mm3,
            "change_from_baseline_pct": p.change_from_baseline_pct,
            "change_from_nadir_pct": p.change_from_nadir_pct,
            "centre_mm": None if p.centre_mm is None else list(p.centre_mm),
            "series_instance_uid": p.series_instance_uid,
            "note": p.note,
        }
        for p in traj.points
    ]
    return {
        "tracking_identifier": lesion.tracking_identifier,
        "tracking_uid": lesion.tracking_uid,
        "organ": lesion.organ,
        "laterality": lesion.laterality,
        "lobe": lesion.lobe,
        "kind": lesion.kind,
        "split_from": traj.parent,
        "time_points": points,
        "measurements": [m.to_dict() for m in lesion.measurements],
    }


def findings_document(
    analysis: PatientAnalysis, facts: Sequence[Fact], generated: str
) -> dict[str, Any]:
    """The ``findings.json`` document of an analysis.

    Args:
        analysis: from :func:`~radcycle.pipeline.analysis.analyze_patient`.
        facts: from :func:`~radcycle.pipeline.facts.build_facts`.
        generated: ISO date-time of the analysis.
    """
    follow = analysis.follow
    trajectories = {t.tracking_identifier: t for t in follow.trajectories}
    studies = []
    for scan, reg in zip(follow.scans, follow.registrations, strict=True):
        acq = scan.volume.acquisition
        ref = image_reference(scan)
        studies.append(
            {
                "date": scan.exam_date.isoformat(),
                "study_instance_uid": scan.study_instance_uid,
                "series_instance_uid": scan.series_instance_uid,
                "modality": acq.modality if acq is not None else None,
                "slice_thickness_mm": acq.slice_thickness_mm if acq is not None else None,
                "frame_of_reference_uid": ref.frame_of_reference_uid if ref else None,
                "registration_to_baseline": None if reg is None else reg.to_dict(),
            }
        )
    return {
        "schema_version": FINDINGS_SCHEMA_VERSION,
        "status": DRAFT_STATUS,
        "generated": generated,
        "patient": {"id": analysis.patient_id},
        "coordinates": "DICOM patient coordinates (LPS), millimetres",
        "studies": studies,
        "lesions": [
            _lesion(lesion, trajectories[lesion.tracking_identifier]) for lesion in analysis.lesions
        ],
        "time_points": [a.to_dict() for a in follow.assessments],
        "recist": follow.recist,
        "new_lesions": [r.to_dict() for r in follow.new_lesions],
        "facts": [f.to_dict() for f in facts],
        "notes": list(follow.notes),
        "skipped_series": list(analysis.skipped_series),
        "timings_s": dict(analysis.timings),
    }
