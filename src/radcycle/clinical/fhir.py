"""Read a FHIR R4 Bundle (JSON) into a :class:`~radcycle.domain.clinical.ClinicalRecord`.

Hospitals send FHIR R4; ``fhir.resources`` validates R5 by default, which
rejects R4 fields (``medicationCodeableConcept``, ``performedDateTime``), so
each entry is validated on its own with the R4B models (R4B keeps the R4
shape of these resources). An entry that fails validation becomes a
:class:`~radcycle.domain.clinical.RecordIssue` naming the resource type, id
and field; the other entries still load.

Example:
    >>> bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
    ...     {"resource": {"resourceType": "Observation", "id": "cea1", "status": "final",
    ...      "code": {"coding": [{"system": "http://loinc.org", "code": "2039-6"}], "text": "CEA"},
    ...      "effectiveDateTime": "2024-01-02", "valueQuantity": {"value": 3.1, "unit": "ng/mL"},
    ...      "referenceRange": [{"high": {"value": 5.0}}]}},
    ...     {"resource": {"resourceType": "Observation", "id": "bad", "status": "final",
    ...      "code": {"text": "x"}, "valueQuantity": {"value": "abc"}}}]}
    >>> record = parse_bundle(bundle)
    >>> record.labs[0].source, record.labs[0].kind, record.labs[0].reference_high
    ('Observation/cea1', 'tumour_marker', 5.0)
    >>> str(record.issues[0]).split(":")[0]
    'Observation/bad'
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from radcycle.clinical.text import decode_text
from radcycle.domain.clinical import (
    ClinicalRecord,
    Diagnosis,
    ImagingStudyRef,
    LabResult,
    MedicationExposure,
    ProcedureEvent,
    RecordIssue,
    ReportDocument,
)
from radcycle.domain.identity import Patient
from radcycle.errors import DataFormatError

__all__ = ["GENOMIC_MARKERS", "LOINC_SMOKING_STATUS", "TUMOUR_MARKERS", "parse_bundle"]

logger = logging.getLogger(__name__)

LOINC_SMOKING_STATUS = "72166-2"
# LOINC codes of serum tumour markers, and names that mark one when uncoded.
TUMOUR_MARKERS: dict[str, str] = {
    "2039-6": "CEA",
    "24108-3": "CA 19-9",
    "10334-1": "CA 125",
    "2857-1": "PSA",
    "1834-1": "AFP",
    "19166-8": "CYFRA 21-1",
    "15060-7": "NSE",
}
# Genes and biomarkers whose results are genomic or immunohistochemistry findings.
GENOMIC_MARKERS: tuple[str, ...] = (
    "EGFR",
    "ALK",
    "KRAS",
    "ROS1",
    "BRAF",
    "MET",
    "RET",
    "NTRK",
    "PD-L1",
    "HER2",
    "TMB",
)
_GENOMIC_RE = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(m) for m in GENOMIC_MARKERS) + r")(?![\w])", re.I
)
_MARKER_NAME_RE = re.compile(r"\b(?:cea|carcinoembryonic|ca ?19-9|ca ?125|psa|cyfra)\b", re.I)
_DICOM_UID_PREFIX = "urn:oid:"


def parse_bundle(
    data: str | bytes | dict[str, Any], *, source: str | None = None
) -> ClinicalRecord:
    """Read a FHIR R4 Bundle into a clinical record.

    Args:
        data: the bundle as JSON text, bytes or an already-parsed dict.
        source: the file name, for error messages.

    Returns:
        The record; entries that failed validation are listed in ``issues``.

    Raises:
        DataFormatError: the data is not JSON or not a Bundle.
    """
    bundle = _load_json(data, source)
    if bundle.get("resourceType") != "Bundle":
        raise DataFormatError(
            "not a FHIR Bundle", path=source, tag="resourceType", value=bundle.get("resourceType")
        )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise DataFormatError("Bundle.entry is not a list", path=source)
    parts: dict[str, list[Any]] = {name: [] for name in _FIELDS}
    issues: list[RecordIssue] = []
    patient: tuple[Patient, str] | None = None
    medications = _medication_names(entries)
    subject = _the_patient(entries, source)
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            issues.append(
                RecordIssue("Bundle.entry", str(index), "entry without a resource object")
            )
            continue
        rtype, rid = str(resource.get("resourceType", "?")), str(resource.get("id", f"#{index}"))
        other = _other_subject(resource, subject)
        if other:
            issues.append(RecordIssue(rtype, rid, f"about {other}, not Patient/{subject}"))
            continue
        problem = _validate(rtype, resource)
        if problem:
            issues.append(RecordIssue(rtype, rid, problem))
            continue
        reader = _READERS.get(rtype)
        if reader is None:
            logger.debug("ignoring %s/%s: no reader for this resource type", rtype, rid)
            continue
        if rtype.startswith("Medication") and "medicationReference" in resource:
            resource = _named_medication(resource, medications)
        try:
            fact = reader(resource, f"{rtype}/{rid}")
        except (ValueError, TypeError, KeyError) as exc:
            issues.append(RecordIssue(rtype, rid, f"cannot read: {exc}"))
            continue
        if isinstance(fact, Patient):
            patient = (fact, f"{rtype}/{rid}")
        else:
            parts[_FIELD_OF[type(fact)]].append(fact)
    return ClinicalRecord(
        patient=patient[0] if patient else None,
        patient_source=patient[1] if patient else "",
        issues=tuple(issues),
        **{name: tuple(values) for name, values in parts.items()},
    )


def _the_patient(entries: list[Any], source: str | None) -> str | None:
    """The id of the bundle's one Patient (None where there is none).

    Raises:
        DataFormatError: the bundle holds several patients (their records would mix).
    """
    ids = {
        str(e["resource"].get("id", ""))
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("resource"), dict)
        and e["resource"].get("resourceType") == "Patient"
    }
    if len(ids) > 1:
        raise DataFormatError(
            "the bundle holds several Patient resources; split it by subject first",
            path=source,
            tag="Patient.id",
            value=sorted(ids)[:10],
        )
    return next(iter(ids), None)


def _other_subject(resource: dict[str, Any], subject: str | None) -> str:
    """``Patient/x`` where the resource is about another patient than ``subject``."""
    if subject is None:
        return ""
    for key in ("subject", "patient"):
        ref = resource.get(key)
        text = str(ref.get("reference", "")) if isinstance(ref, dict) else ""
        if text.startswith("Patient/") and text.removeprefix("Patient/") != subject:
            return text
    return ""


def _medication_names(entries: list[Any]) -> dict[str, tuple[str, str]]:
    """(code, name) of each Medication resource, by "Medication/id" and by fullUrl."""
    names: dict[str, tuple[str, str]] = {}
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Medication":
            concept = _concept(resource.get("code"))
            names[f"Medication/{resource.get('id')}"] = concept
            if entry.get("fullUrl"):
                names[str(entry["fullUrl"])] = concept
    return names


def _named_medication(
    resource: dict[str, Any], bundle_names: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    """The resource with the referenced Medication's code (contained or in the bundle)."""
    reference = str((resource.get("medicationReference") or {}).get("reference", ""))
    contained = {
        f"#{c.get('id')}": _concept(c.get("code"))
        for c in resource.get("contained") or []
        if isinstance(c, dict) and c.get("resourceType") == "Medication"
    }
    code, name = contained.get(reference) or bundle_names.get(reference) or ("", "")
    if not name:
        return resource
    coding = [{"code": code}] if code else []
    return {**resource, "medicationCodeableConcept": {"coding": coding, "text": name}}


def _load_json(data: str | bytes | dict[str, Any], source: str | None) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    try:
        loaded = json.loads(decode_text(data, source=source), parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise DataFormatError(f"not valid JSON: {str(exc)[:200]}", path=source) from exc
    except RecursionError as exc:
        raise DataFormatError("JSON nested too deeply to read", path=source) from exc
    if not isinstance(loaded, dict):
        raise DataFormatError("JSON top level is not an object", path=source)
    return loaded


def _no_constant(name: str) -> object:
    """JSON has no NaN or Infinity; Python's reader accepts them unless told."""
    raise ValueError(f"{name} is not a JSON value")


def _validate(rtype: str, resource: dict[str, Any]) -> str | None:
    """None when the resource is valid FHIR R4(B), else a message naming the fields."""
    try:
        model = get_fhir_model_class(rtype)
    except (ValueError, KeyError):
        return f"unknown resource type {rtype!r}"
    try:
        model.model_validate(resource)
    except ValueError as exc:  # pydantic.ValidationError derives from ValueError
        errors = getattr(exc, "errors", None)
        if callable(errors):
            found = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors()[:3]]
            return "invalid " + "; ".join(found)
        return f"invalid: {exc}"
    return None


# -- field helpers (R4 JSON shapes) -----------------------------------------------------------


def _date(value: object) -> date | None:
    if not isinstance(value, str) or len(value) < 4:
        return None
    parts = value[:10].split("-")
    year, month, day = (
        int(parts[0]),
        int(parts[1]) if len(parts) > 1 else 1,
        int(parts[2]) if len(parts) > 2 else 1,
    )
    return date(year, month, day)


def _first_date(resource: dict[str, Any], *keys: str) -> date | None:
    for key in keys:
        value = resource.get(key)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        found = _date(value)
        if found:
            return found
    return None


def _concept(value: object) -> tuple[str, str]:
    """(code, display) of a CodeableConcept; code is the first coding's code."""
    if not isinstance(value, dict):
        return "", ""
    codings = value.get("coding") or []
    code = str(codings[0].get("code", "")) if codings else ""
    display = value.get("text") or next((c.get("display") for c in codings if c.get("display")), "")
    return code, str(display or code)


def _has_code(value: object, code: str) -> bool:
    return isinstance(value, dict) and any(c.get("code") == code for c in value.get("coding") or [])


# -- readers, one per resource type -----------------------------------------------------------


def _patient(r: dict[str, Any], _src: str) -> Patient:
    sex = {"male": "M", "female": "F", "other": "O"}.get(str(r.get("gender", "")), "")
    names = r.get("name") or []
    name = ""
    if names:
        first = names[0]
        name = (
            first.get("text")
            or " ".join([*(first.get("given") or []), first.get("family", "")]).strip()
        )
    # The hospital's patient identifier when there is one; the resource id is the source.
    identifiers = [i.get("value") for i in r.get("identifier") or [] if i.get("value")]
    patient_id = str(identifiers[0]) if identifiers else str(r.get("id", ""))
    return Patient(patient_id=patient_id, name=name, birth_date=_date(r.get("birthDate")), sex=sex)


def _condition(r: dict[str, Any], src: str) -> Diagnosis:
    code, name = _concept(r.get("code"))
    stages = r.get("stage") or []
    stage = _concept(stages[0].get("summary"))[1] if stages else ""
    status = _concept(r.get("clinicalStatus"))[0]
    when = _first_date(r, "onsetDateTime", "onsetPeriod", "recordedDate")
    return Diagnosis(src, when, code, name, stage, status)


def _observation(r: dict[str, Any], src: str) -> LabResult:
    code, name = _concept(r.get("code"))
    quantity = r.get("valueQuantity") or {}
    value = quantity.get("value")
    text = r.get("valueString") or _concept(r.get("valueCodeableConcept"))[1]
    if value is None and isinstance(r.get("valueInteger"), int):
        value = r["valueInteger"]
    ranges = r.get("referenceRange") or [{}]
    low, high = (
        (ranges[0].get("low") or {}).get("value"),
        (ranges[0].get("high") or {}).get("value"),
    )
    if code == LOINC_SMOKING_STATUS:
        kind = "smoking"
    elif code in TUMOUR_MARKERS or _MARKER_NAME_RE.search(name):
        kind = "tumour_marker"
    elif _GENOMIC_RE.search(name) or _has_code((r.get("category") or [{}])[0], "genomics"):
        kind = "genomic"
    else:
        kind = "lab"
    return LabResult(
        source=src,
        date=_first_date(r, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"),
        code=code,
        name=name or TUMOUR_MARKERS.get(code, ""),
        value=None if value is None else float(value),
        unit=str(quantity.get("unit") or quantity.get("code") or ""),
        value_text=str(text or ""),
        reference_low=None if low is None else float(low),
        reference_high=None if high is None else float(high),
        kind=kind,
    )


def _medication(kind: str, *date_keys: str) -> Callable[[dict[str, Any], str], MedicationExposure]:
    def read(r: dict[str, Any], src: str) -> MedicationExposure:
        code, name = _concept(r.get("medicationCodeableConcept"))
        if not name:
            name = str((r.get("medicationReference") or {}).get("display", ""))
        period = r.get("effectivePeriod") or {}
        for dosage in r.get("dosageInstruction") or []:
            period = (
                period
                or ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod")
                or {}
            )
        start = _date(period.get("start")) or _first_date(r, *date_keys)
        return MedicationExposure(
            src, start, _date(period.get("end")), name, code, str(r.get("status", "")), kind
        )

    return read


def _procedure(r: dict[str, Any], src: str) -> ProcedureEvent:
    code, name = _concept(r.get("code"))
    category = _concept(r.get("category"))[1]
    return ProcedureEvent(
        src, _first_date(r, "performedDateTime", "performedPeriod"), code, name, category
    )


def _report(r: dict[str, Any], src: str) -> ReportDocument:
    code, title = _concept(r.get("code"))
    texts = []
    for form in r.get("presentedForm") or []:
        if form.get("data") and str(form.get("contentType", "text/plain")).startswith("text/"):
            try:
                texts.append(base64.b64decode(form["data"], validate=True).decode("utf-8"))
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise ValueError(f"presentedForm.data is not base64 UTF-8 text: {exc}") from exc
    text = "\n".join(texts) or str(r.get("conclusion") or "")
    categories = r.get("category") or []
    category = _concept(categories[0])[1] if categories else ""
    when = _first_date(r, "effectiveDateTime", "effectivePeriod", "issued")
    return ReportDocument(src, when, code, title, text, category)


def _imaging_study(r: dict[str, Any], src: str) -> ImagingStudyRef:
    uid = ""
    for identifier in r.get("identifier") or []:
        value = str(identifier.get("value", ""))
        if value.startswith(_DICOM_UID_PREFIX) or identifier.get("system") == "urn:dicom:uid":
            uid = value.removeprefix(_DICOM_UID_PREFIX)
            break
    modalities = [str(m.get("code", "")) for m in r.get("modality") or []]
    return ImagingStudyRef(
        src, _first_date(r, "started"), uid, "/".join(modalities), str(r.get("description", ""))
    )


_READERS: dict[str, Callable[[dict[str, Any], str], object]] = {
    "Patient": _patient,
    "Condition": _condition,
    "Observation": _observation,
    "MedicationRequest": _medication("request", "authoredOn"),
    "MedicationAdministration": _medication("administration", "effectiveDateTime"),
    "MedicationStatement": _medication("statement", "effectiveDateTime", "dateAsserted"),
    "Procedure": _procedure,
    "DiagnosticReport": _report,
    "ImagingStudy": _imaging_study,
}
_FIELD_OF: dict[type, str] = {
    Diagnosis: "diagnoses",
    LabResult: "labs",
    MedicationExposure: "medications",
    ProcedureEvent: "procedures",
    ReportDocument: "reports",
    ImagingStudyRef: "studies",
}
_FIELDS = tuple(_FIELD_OF.values())
