"""FHIR R4 export: built, validated and read back through the fhir.resources R4B models."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from radcycle.errors import ExportError
from radcycle.reporting.export.codes import DRAFT_NOTICE
from radcycle.reporting.export.fhir import build_fhir_bundle, validate_bundle, write_fhir
from tests.reporting.export.conftest import Patient, build_report

TEXT = "FINDINGS\nL1 measures 21.6 mm.\n" + DRAFT_NOTICE


@pytest.fixture(scope="module")
def bundle(patient: Patient) -> dict[str, Any]:
    images = [tp.image for tp in patient.timepoints]
    return build_fhir_bundle(build_report(patient), patient.lesions, images, text=TEXT)


def _resources(bundle: dict[str, Any], kind: str) -> list[Any]:
    model = Bundle.model_validate(bundle)
    return [e.resource for e in model.entry if e.resource.get_resource_type() == kind]


def test_one_observation_per_measurement_reads_back(
    patient: Patient, bundle: dict[str, Any]
) -> None:
    observations = _resources(bundle, "Observation")
    by_key = {}
    for obs in observations:
        parts = {c.code.coding[0].code: c.valueString for c in obs.component or ()}
        if "112040" in parts:
            by_key[(parts["112040"], str(obs.effectiveDateTime), obs.code.coding[0].code)] = obs
    measurements = [m for les in patient.lesions for m in les.measurements]
    assert len(by_key) == len(measurements)
    assert any(m.value is None for m in measurements)
    codes = {"long_axis": "103339001", "short_axis": "103340004", "volume": "118565006"}
    for m in measurements:
        obs = by_key[(m.tracking_uid, m.time_point, codes[m.name.value])]
        assert obs.status == "preliminary"
        if m.value is None:  # a lesion gone: no number, and the reason
            assert obs.valueQuantity is None
            assert obs.dataAbsentReason.text == m.status
            continue
        assert float(obs.valueQuantity.value) == pytest.approx(m.value)
        assert obs.valueQuantity.code == m.unit
        assert obs.valueQuantity.system == "http://unitsofmeasure.org"
        assert obs.code.coding[0].system == "http://snomed.info/sct"
        assert obs.derivedFrom[0].reference.startswith("urn:uuid:")


def test_imaging_studies_carry_uids_series_and_instances(
    patient: Patient, bundle: dict[str, Any]
) -> None:
    studies = _resources(bundle, "ImagingStudy")
    ids = {f"urn:uuid:{s.id}": s for s in studies}
    assert len(studies) == len(patient.timepoints)
    for tp, study in zip(patient.timepoints, studies, strict=True):
        assert study.identifier[0].value == f"urn:oid:{tp.image.study_instance_uid}"
        (series,) = study.series
        assert series.uid == tp.image.series_instance_uid
        assert [i.uid for i in series.instance] == list(tp.image.sop_instance_uids)
    for obs in _resources(bundle, "Observation"):
        for ref in obs.derivedFrom or ():
            assert ref.reference in ids


def test_diagnostic_report(patient: Patient, bundle: dict[str, Any]) -> None:
    (report,) = _resources(bundle, "DiagnosticReport")
    assert report.status == "preliminary"
    assert str(report.effectiveDateTime) == patient.timepoints[-1].label
    assert (report.code.coding[0].system, report.code.coding[0].code) == (
        "http://loinc.org",
        "18748-4",
    )
    assert report.conclusion.startswith(DRAFT_NOTICE)
    assert "Partial response (RECIST 1.1)." in report.conclusion
    assert report.presentedForm[0].data == TEXT.encode()
    raw = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    assert base64.b64decode(raw["resource"]["presentedForm"][0]["data"]).decode() == TEXT
    results = {r.reference for r in report.result}
    observations = {f"urn:uuid:{o.id}" for o in _resources(bundle, "Observation")}
    assert results == observations
    recist = [o for o in _resources(bundle, "Observation") if o.code.text == "recist overall"]
    assert recist[0].valueCodeableConcept.text == "PR"
    assert recist[0].method.text == "RECIST 1.1 section 4.3.1"


def test_every_resource_is_tagged_draft(bundle: dict[str, Any]) -> None:
    for entry in bundle["entry"]:
        assert entry["resource"]["meta"]["tag"][0]["display"] == DRAFT_NOTICE


def test_same_input_same_bundle(patient: Patient, bundle: dict[str, Any]) -> None:
    images = [tp.image for tp in patient.timepoints]
    again = build_fhir_bundle(build_report(patient), patient.lesions, images, text=TEXT)
    assert again == bundle


def test_write_and_read_back(bundle: dict[str, Any], tmp_path: Path) -> None:
    path = write_fhir(tmp_path / "fhir.json", bundle)
    assert Bundle.model_validate(json.loads(path.read_text())).model_dump(
        mode="json", exclude_none=True
    ) == Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)
    with pytest.raises(ExportError, match="exists"):
        write_fhir(path, bundle)


def test_invalid_bundle_is_refused() -> None:
    with pytest.raises(ExportError, match="invalid FHIR R4"):
        validate_bundle({"resourceType": "Bundle", "type": "collection", "entry": "x"})
    with pytest.raises(ExportError, match="invalid FHIR R4"):
        validate_bundle({"resourceType": "Bundle"})
