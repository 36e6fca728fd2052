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

* Attachments (``Attachment.data`` anywhere, ``DiagnosticReport.presentedForm``,
  ``DocumentReference.content.attachment``, ``Binary.data``): text types (text/*,
  JSON, XML) are decoded, cleaned like any other string and encoded again; any
  other type has its data, URL and hash dropped, with an extension saying so
  (:data:`REMOVED_ATTACHMENT_URL`). Every string is masked for the names, telecom
  values, address parts, identifiers and birth date of every person of the bundle,
  and for e-mail addresses and telephone numbers.

The original identifier that pseudonyms derive from is the first Patient
identifier whose system matches ``patient_id_system`` (any, by default): it must
be the value that the images carry as PatientID. :func:`output_name` names the
output file from the pseudonym, never from the input's name.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

from radcycle.errors import DataFormatError
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.matcher import PhiMatcher, scrub_contacts
from radcycle.privacy.phi import date_variants
from radcycle.privacy.profile import DeidOptions

__all__ = [
    "DEID_TAG_SYSTEM",
    "REMOVED_ATTACHMENT_URL",
    "attachment_text",
    "bundle_dates",
    "deidentify_bundle",
    "output_name",
    "personal_strings",
]

# Bundle.meta.tag system saying how dates were treated (code dates-remove, -full,
# -modified), so the leak checker knows whether original dates may remain.
DEID_TAG_SYSTEM = "urn:radcycle:fhir:deid"
# HL7 v3 ObservationValue "PSEUDED": pseudonymized (a security label).
_PSEUDED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "PSEUDED",
}
# Extension placed on an attachment whose (non-text) data was dropped.
REMOVED_ATTACHMENT_URL = "urn:radcycle:fhir:deid:attachment-data-removed"
_TEXT_TYPES = re.compile(
    r"^\s*(text/[\w.+-]+|application/([\w.-]+\+)?(json|xml)|application/xhtml\+xml)\b", re.I
)
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.I)

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
            return self.text(node)
        return node

    def _date(self, value: str, days: int | None) -> str | None:
        if self.options.dates == "full":
            return value
        if self.options.dates == "modified" and days is not None:
            return _shift(value, days)
        return None

    def text(self, value: str) -> str:
        return scrub_contacts(self.matcher.scrub(value))

    def _walk_dict(self, node: dict[str, Any], days: int | None) -> dict[str, Any]:
        if isinstance(node.get("data"), str) and "dimensions" not in node:
            return self._attachment(node, days)  # not SampledData, whose data are numbers
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

    def _attachment(self, node: dict[str, Any], days: int | None) -> dict[str, Any]:
        """An Attachment (or Binary): text decoded, cleaned, encoded; other data dropped."""
        rest = {k: v for k, v in node.items() if k not in ("data", "url", "hash", "size")}
        out = self._walk_dict(rest, days)
        text = attachment_text(node)
        if text is not None:
            data = self.text(text).encode("utf-8")
            out["data"] = base64.b64encode(data).decode("ascii")
            out["size"] = len(data)
            if isinstance(node.get("contentType"), str):
                out["contentType"] = _CHARSET.sub("charset=utf-8", node["contentType"])
            return out
        note = f"attachment data removed by de-identification ({node.get('contentType', '?')})"
        extensions = [e for e in out.get("extension", []) if isinstance(e, dict)]
        out["extension"] = [*extensions, {"url": REMOVED_ATTACHMENT_URL, "valueString": note}]
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


def attachment_text(node: dict[str, Any]) -> str | None:
    """The decoded text of an Attachment or Binary of a text type, else None.

    Example:
        >>> attachment_text({"contentType": "text/plain", "data": "aGVsbG8="})
        'hello'
        >>> attachment_text({"contentType": "image/png", "data": "aGVsbG8="}) is None
        True
    """
    kind = str(node.get("contentType", ""))
    if not _TEXT_TYPES.match(kind) or not isinstance(node.get("data"), str):
        return None
    try:
        raw = base64.b64decode(node["data"], validate=False)
    except (binascii.Error, ValueError):
        return None
    charset = _CHARSET.search(kind)
    try:
        return raw.decode(charset.group(1) if charset else "utf-8")
    except (LookupError, UnicodeDecodeError):
        return None  # not text after all: dropped like binary data


def personal_strings(resources: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """Identifying strings of every person in ``resources``: (needles, names as PN).

    Names come from every HumanName (patients, practitioners, related persons);
    needles are telecom values, address parts, Patient identifiers and birth dates.
    """
    needles: set[str] = set()
    names: set[str] = set()
    for res in resources:
        for name in _dicts(res.get("name")):
            given = " ".join(_strings(name.get("given")))
            names.add(f"{name.get('family', '')}^{given}")
            if name.get("text"):
                names.add(str(name["text"]))
        for item in _dicts(res.get("telecom")):
            if item.get("value"):
                needles.add(str(item["value"]))
        for address in _dicts(res.get("address")):
            needles.update(_strings(address.get("line")))
            needles.update(
                str(address[k]) for k in ("city", "postalCode", "text") if address.get(k)
            )
        if res.get("resourceType") != "Patient":
            continue
        for item in _dicts(res.get("identifier")):
            if item.get("value"):
                needles.add(str(item["value"]))
        birth = str(res.get("birthDate", ""))
        if birth:
            needles |= {birth} | date_variants(birth.replace("-", ""))
    return needles, names


def bundle_dates(resources: list[dict[str, Any]]) -> set[str]:
    """Every full date of ``resources``, in the spellings free text uses.

    Example:
        >>> sorted(bundle_dates([{"effectiveDateTime": "2023-03-14T10:15:30Z"}]))[:2]
        ['14.03.2023', '14/03/2023']
    """
    found: set[str] = set()
    for text in _json_strings(resources):
        match = _DATE.match(text)
        if match is not None:
            found |= date_variants("".join(match.groups()[:3]))
    return found


def _json_strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _json_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _json_strings(value)
    elif isinstance(node, str):
        yield node


def _dicts(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, dict)]


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, str) and v]


def output_name(bundle: dict[str, Any], key: DeidKey, patient_id_system: str | None = None) -> str:
    """The file name for the de-identified ``bundle``: its patient's pseudonym.

    A bundle without a Patient is named by a keyed token of its content. The
    input's own name (often a patient's name or MRN) is never used.

    Example:
        >>> b = {"resourceType": "Bundle", "entry": [{"resource": {
        ...     "resourceType": "Patient", "identifier": [{"value": "MRN-1"}]}}]}
        >>> key = DeidKey(bytes(range(32)))
        >>> output_name(b, key) == key.patient_id("MRN-1") + ".json"
        True
    """
    for res in _resources(bundle):
        if res.get("resourceType") == "Patient":
            return key.patient_id(_patient_key(res, patient_id_system)) + ".json"
    digest = hashlib.sha256(json.dumps(bundle, sort_keys=True).encode()).hexdigest()
    return f"bundle-{key.token('fhir-file', digest)}.json"


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
    for res in resources:
        if res.get("resourceType") == "Patient":
            originals[str(res.get("id", ""))] = _patient_key(res, patient_id_system)
    shifts = {pid: key.day_shift(ref) for pid, ref in originals.items()}
    needles, names = personal_strings(resources)
    if options.dates != "full":
        needles |= bundle_dates(resources)  # dates written inside free text
    rewriter = _Rewriter(key, options, urls, PhiMatcher(needles, names))
    out = {k: v for k, v in bundle.items() if k not in ("identifier", "timestamp", "meta", "entry")}
    out["meta"] = {
        "security": [_PSEUDED],
        "tag": [{"system": DEID_TAG_SYSTEM, "code": f"dates-{options.dates}"}],
    }
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
