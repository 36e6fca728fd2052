"""The synthetic patient's clinical record as a FHIR R4 Bundle (type ``collection``).

Resources: Patient; Condition (non-small cell lung cancer, SNOMED CT 254637007,
ICD-10 C34.x by lobe, onset at the baseline scan); Condition pulmonary emphysema
(SNOMED CT 87433001) where the images show it; Procedure (lung biopsy that
confirmed it); Observation of smoking status (LOINC 72166-2); Observations of
CEA (LOINC 2039-6, ng/mL, reference range up to 5.0) at every scan and half way
between, trending with the tumour burden; MedicationRequest and
MedicationAdministration (RxNorm) of the treatment that starts after the
baseline; and one ImagingStudy per scan, identified by its StudyInstanceUID as
``urn:oid:<uid>`` (FHIR R4 ImagingStudy: system ``urn:dicom:uid``).

Every ``fullUrl`` is a ``urn:uuid`` derived from the seed, so the bundle is the
same for the same seed.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, timedelta
from typing import Any

from radcycle.synth.patient import SyntheticPatient

__all__ = ["build_bundle"]

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
_HL7 = "http://terminology.hl7.org/CodeSystem"

# RxNorm ingredient concepts of the regimens the seed chooses between.
REGIMENS: dict[str, list[tuple[str, str, str]]] = {
    "carboplatin-pemetrexed": [
        ("40048", "carboplatin", "AUC 5 IV on day 1 of each 21-day cycle"),
        ("68446", "pemetrexed", "500 mg/m2 IV on day 1 of each 21-day cycle"),
    ],
    "pembrolizumab": [("1547545", "pembrolizumab", "200 mg IV every 21 days")],
}

# ICD-10 C34: malignant neoplasm of bronchus and lung, by lobe.
_ICD10_BY_LOBE = {
    "U": ("C34.1", "upper lobe"),
    "M": ("C34.2", "middle lobe"),
    "L": ("C34.3", "lower lobe"),
}
_SMOKING = {"former": ("8517006", "Ex-smoker"), "current": ("77176002", "Smoker")}
_CYCLE_DAYS = 21


def _uuid(seed: int, *parts: object) -> str:
    digest = hashlib.sha256(":".join(map(str, ("radcycle-synth", seed, *parts))).encode()).digest()
    return f"urn:uuid:{uuid.UUID(bytes=digest[:16], version=4)}"


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _burden(p: SyntheticPatient, t: int) -> float:
    """Sum of diameters (RECIST 1.1 style: long axes, short axes of lymph nodes), mm."""
    total = 0.0
    for lesion in p.timepoints[t].lesions:
        total += (
            lesion["short_axis_mm"] if lesion["type"] == "lymph-node" else lesion["long_axis_mm"]
        )
    return total


def _cea_series(p: SyntheticPatient) -> list[tuple[date, float]]:
    """CEA at each scan and half way between, proportional to the tumour burden."""
    gain = 0.12 + (p.seed % 7) * 0.02
    points: list[tuple[date, float]] = []
    for t, tp in enumerate(p.timepoints):
        level = 1.2 + gain * _burden(p, t)
        if t > 0:
            prev_day, prev_level = points[-1]
            mid = prev_day + (tp.date - prev_day) / 2
            points.append((mid, 0.5 * (prev_level + level)))
        points.append((tp.date, level))
    return points


class _Entries:
    """Bundle entries with deterministic ``urn:uuid`` full URLs (from the seed)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.items: list[dict[str, Any]] = []

    def add(self, kind: str, key: object, resource: dict[str, Any]) -> str:
        url = _uuid(self.seed, kind, key)
        body = {"resourceType": kind, "id": url.removeprefix("urn:uuid:"), **resource}
        self.items.append({"fullUrl": url, "resource": body})
        return url


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)]}


_ACTIVE = _concept(f"{_HL7}/condition-clinical", "active", "Active")
_CONFIRMED = _concept(f"{_HL7}/condition-ver-status", "confirmed", "Confirmed")


def _patient(p: SyntheticPatient) -> dict[str, Any]:
    person = p.patient
    family, _, given = person.name.partition("^")
    return {
        "identifier": [{"system": "urn:radcycle:synth:patient-id", "value": person.patient_id}],
        "name": [{"family": family, "given": [given] if given else []}],
        "gender": {"M": "male", "F": "female"}.get(person.sex, "unknown"),
        "birthDate": person.birth_date.isoformat() if person.birth_date else None,
    }


def _nsclc(p: SyntheticPatient, subject: dict[str, str], recorded: date) -> dict[str, Any]:
    primary = p.timepoints[0].lesions[0]
    icd, lobe = _ICD10_BY_LOBE[(primary.get("lobe") or "RUL")[1]]
    return {
        "clinicalStatus": _ACTIVE,
        "verificationStatus": _CONFIRMED,
        "code": {
            "coding": [
                _coding(SNOMED, "254637007", "Non-small cell lung cancer"),
                _coding(ICD10, icd, f"Malignant neoplasm of {lobe}, bronchus or lung"),
            ],
            "text": f"Non-small cell lung cancer, {primary['side']} {lobe}",
        },
        "subject": subject,
        "onsetDateTime": p.timepoints[0].date.isoformat(),
        "recordedDate": recorded.isoformat(),
    }


def _emphysema(subject: dict[str, str], recorded: date) -> dict[str, Any]:
    return {
        "clinicalStatus": _ACTIVE,
        "verificationStatus": _CONFIRMED,
        "code": _concept(SNOMED, "87433001", "Pulmonary emphysema"),
        "subject": subject,
        "recordedDate": recorded.isoformat(),
    }


def _smoking(p: SyntheticPatient, subject: dict[str, str]) -> dict[str, Any]:
    code, display = _SMOKING[p.smoking]
    return {
        "status": "final",
        "category": [_concept(f"{_HL7}/observation-category", "social-history", "Social History")],
        "code": _concept(LOINC, "72166-2", "Tobacco smoking status"),
        "subject": subject,
        "effectiveDateTime": p.timepoints[0].date.isoformat(),
        "valueCodeableConcept": _concept(SNOMED, code, display),
    }


def build_bundle(p: SyntheticPatient) -> dict[str, Any]:
    """The patient's FHIR R4 Bundle as a JSON-ready dict."""
    entries = _Entries(p.seed)
    subject = {"reference": entries.add("Patient", "", _patient(p))}
    baseline = p.timepoints[0].date
    biopsy_day = baseline + timedelta(days=7)
    condition = entries.add("Condition", "nsclc", _nsclc(p, subject, biopsy_day))
    biopsy = {
        "status": "completed",
        "code": _concept(SNOMED, "78603008", "Biopsy of lung"),
        "subject": subject,
        "performedDateTime": biopsy_day.isoformat(),
        "reasonReference": [{"reference": condition}],
    }
    entries.add("Procedure", "biopsy", biopsy)
    if p.emphysema:
        entries.add("Condition", "emphysema", _emphysema(subject, baseline))
    entries.add("Observation", "smoking", _smoking(p, subject))
    for n, (day, level) in enumerate(_cea_series(p)):
        entries.add("Observation", f"cea-{n}", _cea(subject, day, level))
    _add_treatment(p, entries, subject, condition, biopsy_day + timedelta(days=14))
    for tp in p.timepoints:
        entries.add("ImagingStudy", tp.index, _imaging_study(subject, tp))
    return {
        "resourceType": "Bundle",
        "id": _uuid(p.seed, "Bundle").removeprefix("urn:uuid:"),
        "type": "collection",
        "entry": entries.items,
    }


def _cea(subject: dict[str, str], day: date, level: float) -> dict[str, Any]:
    ng_ml = {"unit": "ng/mL", "system": UCUM, "code": "ng/mL"}
    high = level > 5.0
    return {
        "status": "final",
        "category": [
            {
                "coding": [
                    _coding(
                        "http://terminology.hl7.org/CodeSystem/observation-category",
                        "laboratory",
                        "Laboratory",
                    )
                ]
            }
        ],
        "code": {
            "coding": [
                _coding(LOINC, "2039-6", "Carcinoembryonic Ag [Mass/volume] in Serum or Plasma")
            ]
        },
        "subject": subject,
        "effectiveDateTime": day.isoformat(),
        "valueQuantity": {"value": round(level, 1), **ng_ml},
        "interpretation": [
            {
                "coding": [
                    _coding(
                        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "H" if high else "N",
                        "High" if high else "Normal",
                    )
                ]
            }
        ],
        "referenceRange": [{"high": {"value": 5.0, **ng_ml}}],
    }


def _add_treatment(
    p: SyntheticPatient, entries: _Entries, subject: dict[str, str], condition: str, start: date
) -> None:
    end = p.timepoints[-1].date
    cycles = max(1, min(12, (end - start).days // _CYCLE_DAYS + 1))
    for rx, name, dose in REGIMENS[p.treatment]:
        concept = {"coding": [_coding(RXNORM, rx, name)], "text": name}
        request = entries.add(
            "MedicationRequest",
            name,
            {
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": concept,
                "subject": subject,
                "authoredOn": start.isoformat(),
                "reasonReference": [{"reference": condition}],
                "dosageInstruction": [{"text": dose}],
            },
        )
        for c in range(cycles):
            entries.add(
                "MedicationAdministration",
                f"{name}-{c}",
                {
                    "status": "completed",
                    "medicationCodeableConcept": concept,
                    "subject": subject,
                    "effectiveDateTime": (start + timedelta(days=_CYCLE_DAYS * c)).isoformat(),
                    "request": {"reference": request},
                },
            )


def _imaging_study(subject: dict[str, str], tp: Any) -> dict[str, Any]:
    slices = int(tp.volume.array.shape[0])
    ct = _coding(DCM, "CT", "Computed Tomography")
    return {
        "status": "available",
        "identifier": [
            {"system": "urn:dicom:uid", "value": f"urn:oid:{tp.study_instance_uid}"},
            {
                "type": {
                    "coding": [
                        _coding(
                            "http://terminology.hl7.org/CodeSystem/v2-0203", "ACSN", "Accession ID"
                        )
                    ]
                },
                "value": tp.accession_number,
            },
        ],
        "modality": [ct],
        "subject": subject,
        "started": f"{tp.date.isoformat()}T09:30:00Z",
        "numberOfSeries": 1,
        "numberOfInstances": slices,
        "description": "CT CHEST",
        "series": [
            {
                "uid": tp.series_instance_uid,
                "number": 2,
                "modality": ct,
                "numberOfInstances": slices,
                "bodySite": _coding(SNOMED, "51185008", "Thoracic structure"),
            }
        ],
    }
