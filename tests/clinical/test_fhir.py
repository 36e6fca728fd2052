"""FHIR R4 bundle ingest: every resource type, R4 fields, per-resource errors."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from radcycle.clinical.fhir import parse_bundle
from radcycle.errors import DataFormatError


def test_invalid_resource_is_reported_and_the_rest_loads(bundle: dict[str, Any]) -> None:
    record = parse_bundle(json.dumps(bundle))
    (issue,) = record.issues
    assert (issue.resource_type, issue.resource_id) == ("Observation", "bad1")
    assert "valueQuantity.value" in issue.message
    assert len(record.labs) == 6
    assert len(record.medications) == 7


def test_r4_fields_are_read(bundle: dict[str, Any]) -> None:
    record = parse_bundle(bundle)
    assert record.patient is not None
    assert (record.patient.patient_id, record.patient.sex) == ("p1", "F")
    assert record.patient_source == "Patient/p1"
    med = next(m for m in record.medications if m.source == "MedicationAdministration/m5")
    assert (med.name, med.start, med.end) == ("pemetrexed", date(2024, 2, 22), date(2024, 4, 20))
    (proc,) = record.procedures
    assert (proc.date, proc.category) == (date(2024, 8, 15), "radiotherapy")
    (diagnosis,) = record.diagnoses
    assert diagnosis.stage == "cT2aN0M0"


def test_observation_kinds(bundle: dict[str, Any]) -> None:
    record = parse_bundle(bundle)
    kinds = {lab.source: lab.kind for lab in record.labs}
    assert kinds["Observation/cea1"] == "tumour_marker"
    assert kinds["Observation/smoke1"] == "smoking"
    assert kinds["Observation/egfr1"] == "genomic"
    assert kinds["Observation/pdl1"] == "genomic"
    cea = next(lab for lab in record.labs if lab.source == "Observation/cea3")
    assert (cea.value, cea.unit, cea.reference_high, cea.above_reference) == (
        9.0,
        "ng/mL",
        5.0,
        True,
    )


def test_report_text_and_study_uid(bundle: dict[str, Any]) -> None:
    record = parse_bundle(bundle)
    (report,) = record.reports
    assert report.text.startswith("FINDINGS: 2.1 x 1.5 cm")
    uids = {s.study_instance_uid for s in record.studies}
    assert "1.2.826.0.1.3680043.8.498.1" in uids
    assert next(s.modality for s in record.studies if s.source == "ImagingStudy/s1") == "CT"


def test_conclusion_used_without_presented_form(bundle: dict[str, Any]) -> None:
    report = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "r1")
    del report["presentedForm"]
    report["conclusion"] = "Stable right upper lobe mass."
    assert parse_bundle(bundle).reports[0].text == "Stable right upper lobe mass."


def test_unknown_resource_type_is_an_issue(bundle: dict[str, Any]) -> None:
    bundle["entry"].append({"resource": {"resourceType": "Spaceship", "id": "x"}})
    issues = parse_bundle(bundle).issues
    assert any(i.resource_type == "Spaceship" and "unknown" in i.message for i in issues)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("{not json", "not valid JSON"),
        ('{"resourceType": "Patient"}', "not a FHIR Bundle"),
        ("[1]", "not an object"),
    ],
)
def test_not_a_bundle(data: str, match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        parse_bundle(data, source="x.json")


def test_medication_reference_is_resolved(bundle: dict[str, Any]) -> None:
    bundle["entry"] += [
        {
            "fullUrl": "urn:uuid:med-osi",
            "resource": {
                "resourceType": "Medication",
                "id": "osi",
                "code": {"text": "osimertinib"},
            },
        },
        {
            "resource": {
                "resourceType": "MedicationStatement",
                "id": "ms1",
                "status": "active",
                "subject": {"reference": "Patient/p1"},
                "medicationReference": {"reference": "urn:uuid:med-osi"},
                "effectivePeriod": {"start": "2025-01-01"},
            }
        },
        {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": "mr1",
                "status": "active",
                "intent": "order",
                "subject": {"reference": "Patient/p1"},
                "contained": [
                    {"resourceType": "Medication", "id": "c1", "code": {"text": "alectinib"}}
                ],
                "medicationReference": {"reference": "#c1"},
                "authoredOn": "2025-03-01",
            }
        },
    ]
    names = {m.source: m.name for m in parse_bundle(bundle).medications}
    assert names["MedicationStatement/ms1"] == "osimertinib"
    assert names["MedicationRequest/mr1"] == "alectinib"
