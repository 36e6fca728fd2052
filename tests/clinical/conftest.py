"""A small FHIR R4 bundle of a lung-cancer patient, built in code."""

from __future__ import annotations

import base64
from typing import Any

import pytest

LOINC = "http://loinc.org"


def _obs(rid: str, code: str, name: str, when: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": code}], "text": name},
        "effectiveDateTime": when,
        **value,
    }


def _cea(rid: str, when: str, value: float) -> dict[str, Any]:
    return _obs(
        rid,
        "2039-6",
        "CEA",
        when,
        valueQuantity={"value": value, "unit": "ng/mL", "system": "http://unitsofmeasure.org"},
        referenceRange=[{"high": {"value": 5.0, "unit": "ng/mL"}}],
    )


def _med(rid: str, name: str, start: str, end: str) -> dict[str, Any]:
    # R4 shape: medicationCodeableConcept and effectivePeriod (R5 renamed both).
    return {
        "resourceType": "MedicationAdministration",
        "id": rid,
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": name},
        "effectivePeriod": {"start": start, "end": end},
    }


def make_bundle() -> dict[str, Any]:
    text = base64.b64encode(b"FINDINGS: 2.1 x 1.5 cm right upper lobe mass. No effusion.").decode()
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1956-03-04"},
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": "Patient/p1"},
            "code": {"text": "Adenocarcinoma of right upper lobe of lung"},
            "onsetDateTime": "2024-01-10",
            "stage": [{"summary": {"text": "cT2aN0M0"}}],
        },
        _cea("cea1", "2024-01-08", 4.0),
        _cea("cea2", "2024-04-01", 3.0),
        _cea("cea3", "2024-09-01", 9.0),
        _obs(
            "smoke1",
            "72166-2",
            "Tobacco smoking status",
            "2024-01-08",
            valueCodeableConcept={"text": "Former smoker"},
        ),
        _obs(
            "egfr1",
            "21665-5",
            "EGFR gene mutation analysis",
            "2024-01-20",
            valueCodeableConcept={"text": "Not detected"},
        ),
        _obs(
            "pdl1",
            "85147-7",
            "PD-L1 tumor proportion score",
            "2024-01-20",
            valueQuantity={"value": 60, "unit": "%"},
        ),
        _med("m1", "carboplatin", "2024-02-01", "2024-02-01"),
        _med("m2", "pemetrexed", "2024-02-01", "2024-02-01"),
        _med("m3", "pembrolizumab", "2024-02-01", "2024-02-01"),
        _med("m4", "carboplatin", "2024-02-22", "2024-02-22"),
        _med("m5", "pemetrexed", "2024-02-22", "2024-04-20"),
        _med("m6", "pembrolizumab", "2024-02-22", "2024-06-01"),
        _med("m7", "docetaxel", "2024-10-01", "2024-12-01"),
        {
            "resourceType": "Procedure",
            "id": "rt1",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "code": {"text": "Stereotactic radiotherapy of brain"},
            "category": {"text": "radiotherapy"},
            "performedDateTime": "2024-08-15",
        },
        {
            "resourceType": "DiagnosticReport",
            "id": "r1",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "18748-4"}], "text": "CT chest"},
            "effectiveDateTime": "2024-01-05",
            "presentedForm": [{"contentType": "text/plain", "data": text}],
        },
        {
            "resourceType": "ImagingStudy",
            "id": "s1",
            "status": "available",
            "subject": {"reference": "Patient/p1"},
            "identifier": [
                {"system": "urn:dicom:uid", "value": "urn:oid:1.2.826.0.1.3680043.8.498.1"}
            ],
            "started": "2024-05-02T10:00:00Z",
            "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}],
        },
        {
            "resourceType": "ImagingStudy",
            "id": "s0",
            "status": "available",
            "subject": {"reference": "Patient/p1"},
            "identifier": [
                {"system": "urn:dicom:uid", "value": "urn:oid:1.2.826.0.1.3680043.8.498.0"}
            ],
            "started": "2024-01-05",
        },
        # Invalid: a quantity value that is not a number.
        _obs("bad1", "718-7", "Hemoglobin", "2024-01-08", valueQuantity={"value": "twelve"}),
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


@pytest.fixture
def bundle() -> dict[str, Any]:
    return make_bundle()
