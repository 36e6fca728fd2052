"""De-identify a FHIR R4 JSON Bundle with the same key as the images.

* Patient: names, telecom, address, photo, contact, communication and
  ``text`` removed; every identifier value replaced by the keyed pseudonym of
  :meth:`DeidKey.patient_id` (so the pseudonym equals the DICOM PatientID of the
  same patient); ``birthDate`` shifted, reduced to the year, or removed.
* Every other resource: ``text`` (narrative) removed; names, telecom, address
  and photo removed wherever they occur (practitioners, organisations); each
  ``identifier`` value replaced by a keyed token.
* Every resource id replaced by a keyed token and every reference
  ``Type/id`` (and ``fullUrl``) rewritten the same way, so the bundle stays linked.
* Every date and dateTime of a resource that belongs to a patient (the Patient
  itself, or one whose ``subject``/``patient`` refers to it) is shifted by that
  patient's keyed day shift (:meth:`DeidKey.day_shift`), the same shift as the
  DICOM dates under Modified Dates; with ``dates="full"`` they are kept, with
  ``"remove"`` they are removed.

The original identifier that pseudonyms derive from is the first Patient
identifier whose system matches ``patient_id_system`` (any, by default): it must
be the value that the images carry as PatientID.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from radcycle.errors import DataFormatError
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.phi import PhiMatcher
from radcycle.privacy.profile import DeidOptions

__all__ = ["deidentify_bundle"]

_PERSONAL = ("name", "telecom", "address", "photo", "contact", "communication", "text")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(.*)$")
_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")
# Removed wherever they occur: they name or locate a person (or the display text of
# a reference, which often names the patient or practitioner).
_REMOVED_EVERYWHERE = frozenset({"name", "telecom", "address", "photo", "display", "contact"})


def _shift(value: str, days: int) -> str | None:
    match = _DATE.match(value)
    if match is None:
        return None  # a year or year-month alone: too coarse to shift, removed
    year, month, day, rest = match.groups()
    try:
        moved = dt.date(int(year), int(month), int(day)) + dt.timedelta(days=days)
    except ValueError:
        return None
    return moved.isoformat() + rest


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    if bundle.get("resourceType") != "Bundle":
        raise DataFormatError("not a FHIR Bundle", value=bundle.get("resourceType"))
    return [e["resource"] for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]


def _patient_key(patient: dict[str, Any], system: str | None) -> str:
    for ident in patient.get("identifier", []):
        if (system is None or ident.get("system") == system) and ident.get("value"):
            return str(ident["value"])
    return f"Patient/{patient.get('id', '')}"


class _Rewriter:
    def __init__(
        self,
        key: DeidKey,
        options: DeidOptions,
        urls: dict[str, tuple[str, str]],
        matcher: PhiMatcher,
    ) -> None:
        self.key = key
        self.options = options
        self.urls = urls
        self.matcher = matcher

    def new_id(self, rtype: str, old: str) -> str:
        return self.key.token("fhir-id", f"{rtype}/{old}", 32)

    def reference(self, value: str) -> str:
        if value.startswith("#"):
            return value  # a contained resource: local, nothing to rewrite
        if value in self.urls:
            rtype, old = self.urls[value]
            return f"{rtype}/{self.new_id(rtype, old)}"
        parts = value.split("/_history")[0].rstrip("/").split("/")
        if len(parts) >= 2 and _TYPE.match(parts[-2]):
            return f"{parts[-2]}/{self.new_id(parts[-2], parts[-1])}"
        return "urn:uuid:" + _uuid(self.key.token("fhir-ref", value, 32))

    def walk(self, node: Any, days: int | None) -> Any:
        if isinstance(node, dict):
            return self._walk_dict(node, days)
        if isinstance(node, list):
            walked = [self.walk(item, days) for item in node]
            return [w for w in walked if w is not None]
        if isinstance(node, str):
            if _DATE.match(node):
                return self._date(node, days)
            return self.matcher.scrub(node)
        return node

    def _date(self, value: str, days: int | None) -> str | None:
        if self.options.dates == "full":
            return value
        if self.options.dates == "modified" and days is not None:
            return _shift(value, days)
        return None

    def _walk_dict(self, node: dict[str, Any], days: int | None) -> dict[str, Any]:
        is_resource = "resourceType" in node
        out: dict[str, Any] = {}
        for name, value in node.items():
            if name in _REMOVED_EVERYWHERE or (is_resource and name in ("text", "meta")):
                continue  # personal data; narrative and metadata of a resource
            if name == "reference" and isinstance(value, str):
                out[name] = self.reference(value)
            elif name == "identifier":
                items = value if isinstance(value, list) else [value]
                out[name] = [self._identifier(i) for i in items if isinstance(i, dict)]
            else:
                walked = self.walk(value, days)
                if walked is not None:
                    out[name] = walked
        return out

    def _identifier(self, ident: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in ident.items() if k in ("system", "use", "type")}
        if ident.get("value"):
            kept["value"] = self.key.token("fhir-identifier", str(ident["value"]), 16)
        return kept


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"


def _subject_patient(resource: dict[str, Any], urls: dict[str, tuple[str, str]]) -> str | None:
    for field in ("subject", "patient", "beneficiary"):
        ref = resource.get(field)
        if not isinstance(ref, dict):
            continue
        value = str(ref.get("reference", ""))
        if value in urls and urls[value][0] == "Patient":
            return urls[value][1]
        if value.startswith("Patient/"):
            return value.split("/")[1]
    return None


def _patient_strings(patient: dict[str, Any]) -> set[str]:
    """Names, identifiers, contact details and birth date of a Patient, for scrubbing."""
    found: set[str] = set()
    for name in patient.get("name", []):
        found.update(str(v) for v in name.get("given", []))
        found.update(str(name[k]) for k in ("family", "text") if name.get(k))
    for item in patient.get("identifier", []) + patient.get("telecom", []):
        if item.get("value"):
            found.add(str(item["value"]))
    for address in patient.get("address", []):
        found.update(str(v) for v in address.get("line", []))
        found.update(str(address[k]) for k in ("city", "postalCode", "text") if address.get(k))
    if patient.get("birthDate"):
        found.add(str(patient["birthDate"]))
    return found


def deidentify_bundle(
    bundle: dict[str, Any],
    key: DeidKey,
    options: DeidOptions,
    *,
    patient_id_system: str | None = None,
) -> dict[str, Any]:
    """A de-identified copy of a FHIR Bundle (the input is not modified).

    Args:
        bundle: the Bundle as parsed JSON.
        key: the same key as for the images.
        options: ``dates`` and ``birth_date`` are used.
        patient_id_system: identifier system of the value the images carry as
            PatientID (the first identifier when None).

    Raises:
        DataFormatError: if ``bundle`` is not a Bundle.
    """
    resources = _resources(bundle)
    urls: dict[str, tuple[str, str]] = {}
    for entry in bundle.get("entry", []):
        res = entry.get("resource") or {}
        if entry.get("fullUrl") and "id" in res:
            urls[str(entry["fullUrl"])] = (str(res.get("resourceType")), str(res["id"]))
    originals: dict[str, str] = {}
    personal: set[str] = set()
    for res in resources:
        if res.get("resourceType") == "Patient":
            originals[str(res.get("id", ""))] = _patient_key(res, patient_id_system)
            personal |= _patient_strings(res)
    shifts = {pid: key.day_shift(ref) for pid, ref in originals.items()}
    rewriter = _Rewriter(key, options, urls, PhiMatcher(personal))
    out = {k: v for k, v in bundle.items() if k not in ("identifier", "timestamp", "meta", "entry")}
    out["entry"] = []
    for entry in bundle.get("entry", []):
        res = entry.get("resource")
        if not isinstance(res, dict):
            continue
        rtype = str(res.get("resourceType", ""))
        owner = str(res.get("id", "")) if rtype == "Patient" else _subject_patient(res, urls)
        days = shifts.get(owner or "")
        new = rewriter.walk(res, days)
        new_entry: dict[str, Any] = {}
        if "id" in res:
            new["id"] = rewriter.new_id(rtype, str(res["id"]))
            new_entry["fullUrl"] = f"{rtype}/{new['id']}"
        if rtype == "Patient":
            _patient(new, res, key, options, originals[str(res.get("id", ""))])
        new_entry["resource"] = new
        if isinstance(entry.get("request"), dict):
            new_entry["request"] = {
                "method": entry["request"].get("method", "PUT"),
                "url": new_entry.get("fullUrl", rtype),
            }
        out["entry"].append(new_entry)
    return out


def _patient(
    new: dict[str, Any], old: dict[str, Any], key: DeidKey, options: DeidOptions, ref: str
) -> None:
    for name in _PERSONAL:
        new.pop(name, None)
    idents = [
        {
            **({"system": i["system"]} if "system" in i else {}),
            "value": key.patient_id(str(i["value"])),
        }
        for i in old.get("identifier", [])
        if i.get("value")
    ]
    new["identifier"] = idents or [{"value": key.patient_id(ref)}]
    new.pop("birthDate", None)
    birth = old.get("birthDate")
    if isinstance(birth, str) and birth:
        if options.birth_date == "year":
            new["birthDate"] = birth[:4]
        elif options.birth_date == "shift":
            shifted = _shift(birth, key.day_shift(ref))
            if shifted:
                new["birthDate"] = shifted
    for name in ("deceasedDateTime", "multipleBirthInteger", "multipleBirthBoolean"):
        new.pop(name, None)
