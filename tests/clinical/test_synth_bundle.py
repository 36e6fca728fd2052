"""The synthetic patient's FHIR R4 bundle (radcycle.synth) reads cleanly into a timeline."""

from __future__ import annotations

import json

import pytest

from radcycle.clinical.fhir import parse_bundle
from radcycle.clinical.summary import record_summary
from radcycle.clinical.timeline import current_treatment, lab_trends, lines_of_therapy
from radcycle.synth.fhir import build_bundle
from radcycle.synth.patient import generate_patient


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthetic_bundle_reads_into_a_timeline(seed: int) -> None:
    patient = generate_patient(seed=seed, timepoints=3, slices=40, matrix=128)
    record = parse_bundle(json.dumps(build_bundle(patient)))
    assert record.issues == ()
    assert record.patient is not None
    assert record.patient.birth_date == patient.patient.birth_date
    assert record.patient.patient_id == patient.patient.patient_id
    # Every scan is an ImagingStudy with its StudyInstanceUID, in order.
    studies = sorted(record.studies, key=lambda s: s.date or patient.timepoints[0].date)
    assert [s.study_instance_uid for s in studies] == [
        tp.study_instance_uid for tp in patient.timepoints
    ]
    assert [s.date for s in studies] == [tp.date for tp in patient.timepoints]
    # CEA at every scan and half way between: one trend of 2n - 1 values.
    (cea,) = [t for t in lab_trends(record.labs) if t.code == "2039-6"]
    assert cea.count == 2 * len(patient.timepoints) - 1
    assert cea.unit == "ng/mL"
    assert any(lab.kind == "smoking" for lab in record.labs)
    # Treatment starts after the baseline scan and runs at the follow-up scans.
    lines = lines_of_therapy(record.medications)
    assert len(lines) == 1
    assert current_treatment(lines, patient.timepoints[0].date) is None
    assert current_treatment(lines, patient.timepoints[1].date) is not None
    summary = record_summary(record)
    assert summary["errors"] == []
    assert all(event["source"] for event in summary["timeline"])
