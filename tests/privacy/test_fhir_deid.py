"""FHIR Bundle de-identification with the same key and shift as the images."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pydicom
import pytest

from radcycle.errors import DataFormatError
from radcycle.privacy.batch import deidentify_tree
from radcycle.privacy.fhir_deid import deidentify_bundle
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.profile import DeidOptions
from radcycle.synth import generate_patient, write_patient

MODIFIED = DeidOptions(dates="modified")


def _bundle() -> dict[str, Any]:
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "urn:mrn", "value": "MRN-884422"}],
        "name": [{"family": "Quarrington", "given": ["Philomena"]}],
        "telecom": [{"system": "phone", "value": "+44 20 7946 0958"}],
        "address": [{"line": ["12 Lantern Row"], "city": "Brackwater"}],
        "photo": [{"contentType": "image/png", "data": "AAAA"}],
        "birthDate": "1961-03-17",
        "gender": "female",
    }
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "subject": {"reference": "Patient/p1", "display": "Philomena Quarrington"},
        "performer": [{"reference": "Practitioner/dr1"}],
        "effectiveDateTime": "2023-03-14T10:15:30+00:00",
        "valueString": "Philomena reports less cough (MRN-884422)",
        "code": {"text": "Symptom"},
    }
    practitioner = {"resourceType": "Practitioner", "id": "dr1", "name": [{"family": "Oyelaran"}]}
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:0a", "resource": patient},
            {"fullUrl": "urn:uuid:0b", "resource": obs},
            {"fullUrl": "urn:uuid:0c", "resource": practitioner},
        ],
    }


def test_personal_data_removed_and_references_consistent(key: DeidKey) -> None:
    out = deidentify_bundle(_bundle(), key, MODIFIED)
    text = json.dumps(out)
    for secret in (
        "Quarrington",
        "Philomena",
        "Lantern",
        "7946",
        "Oyelaran",
        "MRN-884422",
        "1961-03-17",
    ):
        assert secret not in text
    patient, obs, practitioner = (e["resource"] for e in out["entry"])
    assert patient["identifier"] == [{"system": "urn:mrn", "value": key.patient_id("MRN-884422")}]
    assert patient["birthDate"] == "1961"
    assert {"name", "telecom", "address", "photo"}.isdisjoint(patient)
    assert obs["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert obs["performer"][0]["reference"] == f"Practitioner/{practitioner['id']}"
    shift = key.day_shift("MRN-884422")
    expected = dt.date(2023, 3, 14) + dt.timedelta(days=shift)
    assert obs["effectiveDateTime"] == f"{expected.isoformat()}T10:15:30+00:00"
    assert obs["valueString"] == "********* reports less cough (**********)"
    assert deidentify_bundle(_bundle(), key, MODIFIED) == out


def test_birth_date_options_and_other_keys(key: DeidKey, other_key: DeidKey) -> None:
    shifted = deidentify_bundle(_bundle(), key, DeidOptions(dates="modified", birth_date="shift"))
    expected = dt.date(1961, 3, 17) + dt.timedelta(days=key.day_shift("MRN-884422"))
    assert shifted["entry"][0]["resource"]["birthDate"] == expected.isoformat()
    removed = deidentify_bundle(_bundle(), key, DeidOptions(birth_date="remove"))
    assert "birthDate" not in removed["entry"][0]["resource"]
    assert "effectiveDateTime" not in removed["entry"][1]["resource"]
    other = deidentify_bundle(_bundle(), other_key, MODIFIED)
    ids = {e["resource"]["id"] for e in shifted["entry"]}
    assert ids.isdisjoint({e["resource"]["id"] for e in other["entry"]})


def test_not_a_bundle(key: DeidKey) -> None:
    with pytest.raises(DataFormatError):
        deidentify_bundle({"resourceType": "Patient"}, key, MODIFIED)


@pytest.mark.slow
def test_synthetic_patient_images_and_record_share_pseudonym_and_shift(
    tmp_path: Path, key: DeidKey
) -> None:
    folder = write_patient(generate_patient(3, timepoints=2, slices=16, matrix=64), tmp_path / "p")
    bundle = json.loads((folder / "fhir_bundle.json").read_text())
    truth = json.loads((folder / "truth.json").read_text())
    out = tmp_path / "out"
    summary = deidentify_tree(folder, out, key, MODIFIED, workers=2)
    assert summary.count("written") == 32
    assert summary.count("failed") == 0
    studies = {}
    for path in out.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        studies[str(ds.StudyInstanceUID)] = (str(ds.PatientID), str(ds.StudyDate))
    # Images and geometry unchanged.
    for record in summary.records:
        if record.output:
            before, after = (
                pydicom.dcmread(folder / record.source),
                pydicom.dcmread(out / record.output),
            )
            assert after.PixelData == before.PixelData
            for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
                assert after.get(keyword) == before.get(keyword)
    record = deidentify_bundle(bundle, key, MODIFIED)
    patient = next(
        e["resource"] for e in record["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    pseudonyms = {pid for pid, _ in studies.values()}
    assert pseudonyms == {patient["identifier"][0]["value"]}
    shift = dt.timedelta(days=key.day_shift(truth["patient"]["patient_id"]))
    image_dates = sorted(dt.datetime.strptime(d, "%Y%m%d").date() for _, d in studies.values())
    truth_dates = sorted(dt.date.fromisoformat(tp["date"]) + shift for tp in truth["timepoints"])
    assert image_dates == truth_dates
    fhir_text = json.dumps(record)
    assert truth["patient"]["patient_id"] not in fhir_text
    assert all(tp["date"] not in fhir_text for tp in truth["timepoints"])
