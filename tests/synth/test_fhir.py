"""The FHIR R4 bundle: it parses as R4B, references resolve, it agrees with the images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fhir.resources.R4B.bundle import Bundle

from radcycle.synth import SyntheticPatient


@pytest.fixture(scope="module")
def bundle(written: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((written / "fhir_bundle.json").read_text())
    return data


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_parses_as_r4b(bundle: dict[str, Any]) -> None:
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    assert len(parsed.entry) == len(bundle["entry"])


def test_references_resolve_and_urls_are_unique(bundle: dict[str, Any]) -> None:
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    assert all(u.startswith("urn:uuid:") for u in urls)

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["reference"]] if isinstance(node.get("reference"), str) else []
            return found + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    assert set(refs(bundle)) <= set(urls)


def test_patient_matches_dicom(bundle: dict[str, Any], small_patient: SyntheticPatient) -> None:
    (patient,) = _resources(bundle, "Patient")
    assert patient["identifier"][0]["value"] == small_patient.patient.patient_id
    assert patient["gender"] == {"M": "male", "F": "female"}[small_patient.patient.sex]
    assert patient["birthDate"] == small_patient.patient.birth_date.isoformat()


def test_clinical_story(bundle: dict[str, Any], small_patient: SyntheticPatient) -> None:
    (condition,) = [
        c
        for c in _resources(bundle, "Condition")
        if c["code"]["coding"][0]["code"] == "254637007"  # non-small cell lung cancer
    ]
    codes = {c["code"] for c in condition["code"]["coding"]}
    assert "254637007" in codes
    assert any(c.startswith("C34") for c in codes)
    assert condition["onsetDateTime"] == small_patient.timepoints[0].date.isoformat()
    # ICD-10 C34.1 upper, C34.2 middle, C34.3 lower lobe: the primary tumour's (L1) lobe
    primary = small_patient.timepoints[0].lesions[0]
    icd = {"U": "C34.1", "M": "C34.2", "L": "C34.3"}[primary["lobe"][1]]
    assert icd in codes
    observations = _resources(bundle, "Observation")
    smoking = [o for o in observations if o["code"]["coding"][0]["code"] == "72166-2"]
    assert len(smoking) == 1
    cea = [o for o in observations if o["code"]["coding"][0]["code"] == "2039-6"]
    assert len(cea) == 2 * len(small_patient.timepoints) - 1
    assert all(o["valueQuantity"]["code"] == "ng/mL" for o in cea)
    by_day = {o["effectiveDateTime"]: o["valueQuantity"]["value"] for o in cea}
    levels = [by_day[tp.date.isoformat()] for tp in small_patient.timepoints]
    assert levels[1] < levels[0] < levels[2]  # response, then progression
    starts = [r["authoredOn"] for r in _resources(bundle, "MedicationRequest")]
    assert starts
    assert min(starts) > small_patient.timepoints[0].date.isoformat()
    assert _resources(bundle, "MedicationAdministration")


def test_imaging_studies_name_the_dicom_studies(
    bundle: dict[str, Any], small_patient: SyntheticPatient
) -> None:
    studies = _resources(bundle, "ImagingStudy")
    ids = {s["identifier"][0]["value"] for s in studies}
    assert ids == {f"urn:oid:{tp.study_instance_uid}" for tp in small_patient.timepoints}
    assert all(s["identifier"][0]["system"] == "urn:dicom:uid" for s in studies)


@pytest.mark.parametrize("seed", [2, 3])  # with and without emphysema
def test_emphysema_in_images_truth_and_record(seed: int) -> None:
    from scipy import ndimage

    from radcycle.synth import build_bundle, generate_patient

    patient = generate_patient(seed, timepoints=1, slices=60, matrix=192)
    conditions = [
        e["resource"]["code"]["coding"][0]["code"]
        for e in build_bundle(patient)["entry"]
        if e["resource"]["resourceType"] == "Condition"
    ]
    assert ("87433001" in conditions) == patient.emphysema
    assert patient.truth()["emphysema"] == patient.emphysema
    upper = patient.timepoints[0].volume.array[30:]  # upper half of the chest
    body = np.stack([ndimage.binary_fill_holes(plane > -500) for plane in upper])
    lung = body & (upper < -700)
    low_attenuation = float(np.mean(upper[lung] < -940))  # LAA, as emphysema indices
    assert (low_attenuation > 0.05) == patient.emphysema
