"""FHIR R4 export: DiagnosticReport, one Observation per measurement, ImagingStudy, as a Bundle.

The Bundle (type ``collection``) holds:

* one ImagingStudy per study (StudyInstanceUID as ``urn:dicom:uid`` identifier,
  its series with modality, its instances with SOP class);
* one Observation per :class:`~radcycle.domain.measurement.Measurement`
  (status ``preliminary``, category ``imaging``, SNOMED CT / DICOM code of the
  quantity, UCUM ``valueQuantity`` or a ``dataAbsentReason`` that says why there
  is none, finding site as ``bodySite``, TrackingIdentifier and
  TrackingUniqueIdentifier as components (DCM 112039 / 112040), ``derivedFrom``
  the ImagingStudy it was measured on);
* one Observation per guideline or response fact of the report (RECIST 1.1,
  Lung-RADS ...), its category as text, the rule cited in ``method``;
* the DiagnosticReport (status ``preliminary``, LOINC 18748-4, ``conclusion`` from
  the impression, ``presentedForm`` with the rendered text, ``result`` and
  ``imagingStudy`` references).

Every resource is tagged with :data:`~radcycle.reporting.export.codes.DRAFT_NOTICE`
and the Bundle is validated with the fhir.resources R4B models before it is
returned. Ids are UUIDs derived from the content (the same input gives the same
Bundle).
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from radcycle.domain.facts import Fact, FactKind, Lesion
from radcycle.domain.measurement import MEASURED, Measurement
from radcycle.domain.provenance import ImageReference
from radcycle.errors import DataFormatError, ExportError
from radcycle.reporting.export import codes as c
from radcycle.reporting.export.output import export

log = logging.getLogger(__name__)

__all__ = ["build_fhir_bundle", "write_fhir"]

_NAMESPACE = uuid.UUID("0f5c1d2e-8a43-4f59-9d8e-6a1f3c2b7e90")
_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
_DRAFT_TAG = {"system": c.FHIR_SYSTEMS[c.LOCAL_SCHEME], "code": "draft", "display": c.DRAFT_NOTICE}


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join(str(p) for p in parts)))


def _coding(concept: c.Concept) -> dict[str, str]:
    return {
        "system": c.FHIR_SYSTEMS[concept.scheme],
        "code": concept.value,
        "display": concept.meaning,
    }


def _resource(kind: str, rid: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": kind, "id": rid, "meta": {"tag": [_DRAFT_TAG]}, **body}


def _date(text: str | None) -> str | None:
    try:
        return date.fromisoformat(str(text)).isoformat()
    except ValueError:
        return None


def _imaging_studies(
    images: Sequence[ImageReference], subject: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    studies: dict[str, dict[str, Any]] = {}
    for ref in images:
        study = studies.setdefault(
            ref.study_instance_uid,
            _resource(
                "ImagingStudy",
                _uuid("study", ref.study_instance_uid),
                {
                    "identifier": [
                        {"system": "urn:dicom:uid", "value": f"urn:oid:{ref.study_instance_uid}"}
                    ],
                    "status": "available",
                    "subject": subject,
                    "series": [],
                },
            ),
        )
        series: dict[str, Any] = {"uid": ref.series_instance_uid}
        if ref.modality:
            series["modality"] = {"system": c.FHIR_SYSTEMS["DCM"], "code": ref.modality}
        else:
            series["modality"] = {"system": c.FHIR_SYSTEMS["DCM"], "code": "OT"}
        if ref.sop_class_uid and ref.sop_instance_uids:
            sop_class = {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{ref.sop_class_uid}"}
            series["numberOfInstances"] = len(ref.sop_instance_uids)
            series["instance"] = [
                {"uid": uid, "sopClass": sop_class, "number": n}
                for n, uid in enumerate(ref.sop_instance_uids, start=1)
            ]
        study["series"].append(series)
    for study in studies.values():
        study["numberOfSeries"] = len(study["series"])
    return studies


def _body_site(lesion: Lesion) -> dict[str, Any]:
    site, side = c.site_codes(lesion.organ, lesion.laterality, lesion.lobe)
    words = " ".join(w for w in (lesion.laterality, lesion.lobe or lesion.organ) if w)
    codings = [_coding(site)] + ([_coding(side)] if side is not None else [])
    return {"coding": codings, "text": words or site.meaning}


def _tracking_components(m: Measurement) -> list[dict[str, Any]]:
    return [
        {
            "code": {"coding": [_coding(c.Concept("DCM", "112039", "Tracking Identifier"))]},
            "valueString": m.tracking_identifier,
        },
        {
            "code": {"coding": [_coding(c.Concept("DCM", "112040", "Tracking Unique Identifier"))]},
            "valueString": m.tracking_uid,
        },
    ]


def _measurement_observation(
    m: Measurement, lesion: Lesion, subject: dict[str, Any], studies: Mapping[str, Any]
) -> dict[str, Any]:
    concept = c.MEASUREMENT_CODES[m.name.value]
    body: dict[str, Any] = {
        "status": "preliminary",
        "category": [{"coding": [{"system": _CATEGORY, "code": "imaging"}]}],
        "code": {"coding": [_coding(concept)], "text": m.name.value.replace("_", " ")},
        "subject": subject,
        "bodySite": _body_site(lesion),
        "method": {"text": f"{m.algorithm.name} {m.algorithm.version}"},
        "component": _tracking_components(m),
    }
    when = _date(m.time_point)
    if when is not None:
        body["effectiveDateTime"] = when
    if m.status == MEASURED:
        body["valueQuantity"] = {
            "value": m.value,
            "unit": m.unit,
            "system": c.FHIR_SYSTEMS["UCUM"],
            "code": m.unit,
        }
    else:
        body["dataAbsentReason"] = {"text": m.status}
    if m.image is not None and m.image.study_instance_uid in studies:
        study = studies[m.image.study_instance_uid]
        body["derivedFrom"] = [{"reference": f"urn:uuid:{study['id']}"}]
    rid = _uuid("measurement", m.tracking_uid, m.time_point, m.name.value)
    return _resource("Observation", rid, body)


def _fact_observation(fact: Fact, subject: dict[str, Any]) -> dict[str, Any]:
    rule = fact.provenance.rule
    body: dict[str, Any] = {
        "status": "preliminary",
        "category": [{"coding": [{"system": _CATEGORY, "code": "imaging"}]}],
        "code": {"text": fact.name.replace("_", " ") or fact.kind.value},
        "subject": subject,
        "valueCodeableConcept": {"text": str(fact.value)},
    }
    if rule is not None:
        body["method"] = {"text": rule.cite()}
    when = _date(fact.time_point)
    if when is not None:
        body["effectiveDateTime"] = when
    if fact.tracking_identifier:
        body["focus"] = [{"display": fact.tracking_identifier}]
    return _resource("Observation", _uuid("fact", fact.id), body)


def _sentences(report: Mapping[str, Any], section: str) -> list[str]:
    for part in report.get("sections") or ():
        if part.get("name") == section:
            return [str(s.get("text", "")) for s in part.get("sentences") or ()]
    return []


def _diagnostic_report(
    report: Mapping[str, Any],
    text: str,
    subject: dict[str, Any],
    refs: tuple[tuple[list[str], list[str]], list[dict[str, Any]]],
) -> dict[str, Any]:
    (studies, results), observations = refs
    impression = " ".join(_sentences(report, "impression"))
    body: dict[str, Any] = {
        "status": "preliminary",
        "category": [{"coding": [{"system": _V2_0074, "code": "RAD"}]}],
        "code": {
            "coding": [
                {
                    "system": c.FHIR_SYSTEMS["LN"],
                    "code": "18748-4",
                    "display": "Diagnostic imaging study",
                }
            ]
        },
        "subject": subject,
        "imagingStudy": [{"reference": f"urn:uuid:{rid}"} for rid in studies],
        "result": [{"reference": f"urn:uuid:{rid}"} for rid in results],
        "conclusion": f"{c.DRAFT_NOTICE}. {impression}".strip(),
        "presentedForm": [
            {
                "contentType": "text/plain; charset=utf-8",
                "language": "en",
                "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                "title": f"Report ({c.DRAFT_NOTICE})",
            }
        ],
    }
    if report.get("generated"):
        body["issued"] = str(report["generated"])
    dates = [o["effectiveDateTime"] for o in observations if "effectiveDateTime" in o]
    if dates:  # the report is about the latest study
        body["effectiveDateTime"] = max(dates)
    return _resource("DiagnosticReport", _uuid("report", json.dumps(body, sort_keys=True)), body)


def build_fhir_bundle(
    report: Mapping[str, Any],
    lesions: Sequence[Lesion],
    images: Sequence[ImageReference],
    *,
    text: str,
) -> dict[str, Any]:
    """The FHIR R4 Bundle of one analysis, validated with the R4B models.

    Args:
        report: the report.json document (sections, facts, patient, generated).
        lesions: the tracked lesions; each Measurement becomes an Observation.
        images: the image series analysed (one ImagingStudy per study).
        text: the rendered report text (DiagnosticReport.presentedForm).

    Returns:
        The Bundle as a JSON-ready dictionary.

    Raises:
        DataFormatError: a fact of ``report`` is malformed.
        ExportError: the result does not validate against FHIR R4.
    """
    patient_id = (report.get("patient") or {}).get("id")
    subject: dict[str, Any] = (
        {"identifier": {"value": str(patient_id)}} if patient_id else {"display": "unknown"}
    )
    studies = _imaging_studies(images, subject)
    observations = [
        _measurement_observation(m, les, subject, studies)
        for les in lesions
        for m in les.measurements
    ]
    try:
        facts = [Fact.from_dict(f) for f in report.get("facts") or ()]
    except (TypeError, AttributeError) as exc:
        raise DataFormatError(f"report facts are malformed: {exc}") from exc
    observations += [
        _fact_observation(f, subject)
        for f in facts
        if f.kind in (FactKind.RESPONSE, FactKind.GUIDELINE)
    ]
    ids = ([s["id"] for s in studies.values()], [o["id"] for o in observations])
    diagnostic = _diagnostic_report(report, text, subject, (ids, observations))
    resources = [diagnostic, *studies.values(), *observations]
    bundle = {
        "resourceType": "Bundle",
        "id": _uuid("bundle", diagnostic["id"]),
        "meta": {"tag": [_DRAFT_TAG]},
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
    return validate_bundle(bundle)


def validate_bundle(bundle: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a Bundle against the fhir.resources R4B models; return it normalised.

    Raises:
        ExportError: it is not valid FHIR R4.
    """
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    try:
        model = Bundle.model_validate(dict(bundle))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ExportError(f"invalid FHIR R4 Bundle at {where}: {first.get('msg')}") from exc
    result: dict[str, Any] = json.loads(model.model_dump_json(exclude_none=True))
    return result


def write_fhir(path: str | Path, bundle: Mapping[str, Any], *, force: bool = False) -> Path:
    """Write a Bundle from :func:`build_fhir_bundle` as JSON (UTF-8, indented).

    Raises:
        ExportError: the file exists (without ``force``) or cannot be written.
    """
    export(
        path,
        force,
        lambda: json.dumps(bundle, indent=2, ensure_ascii=False) + "\n",
        lambda data, tmp: tmp.write_text(data, encoding="utf-8"),
    )
    return Path(path)
