"""The coded concepts the exports use, as data: one table for SR, SEG and FHIR.

Codes come from DICOM PS3.16 (as shipped in pydicom's code dictionary): SNOMED CT
(``SCT``) for anatomy, finding types and the measured quantities, DICOM (``DCM``)
for tracking, attenuation, SUV and the RECIST 1.1 response: the criteria
(CID 6147, DCM 126081 RECIST 1.1), the target and non-target responses (CID 6144)
and the concept names DCM 112048 Current Response and DCM 112049 Best Overall
Response; UCUM for units. The Lung-RADS category is named by SNOMED CT
1362105002 (Lung Imaging Reporting and Data System category, an observable
entity; HL7 Lithuania's lung screening guide uses it the same way).

Where no standard code exists the concept is given in the private coding scheme
:data:`LOCAL_SCHEME` (``99RADCYCLE``: DICOM PS3.3 8.2 reserves designators
beginning with ``99`` for local schemes), never a guessed standard code. These
are, and only these: the values of the overall and best overall response (CR,
PR, SD, PD, NE: CID 6144 codes only target and non-target responses), the
Lung-RADS category values (0 to 4X: no SNOMED CT or DICOM code), the nodule type
and its concept name, the solid-component long axis, the measurement status of a
lesion without a value, and an organ outside the table below.

Example:
    >>> MEASUREMENT_CODES["long_axis"].meaning
    'Long axis'
    >>> site_codes("lung", "right", "RUL")[0].meaning
    'Upper lobe of lung'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DRAFT_NOTICE",
    "FHIR_SYSTEMS",
    "LOCAL_SCHEME",
    "MEASUREMENT_CODES",
    "RECIST_RESPONSE_CODES",
    "Concept",
    "finding_type",
    "local_concept",
    "notice_for",
    "site_codes",
]

#: Every export carries this until a person signs the report.
DRAFT_NOTICE = "draft - not for diagnostic use until signed"


def notice_for(status: str | None) -> str:
    """The notice an export shows for a report ``status``: the signature once a
    person has signed (``final - signed by ...``), :data:`DRAFT_NOTICE` otherwise.

    Example:
        >>> notice_for("final - signed by dr at 2026-12-07T10:00:00")
        'final - signed by dr at 2026-12-07T10:00:00'
        >>> notice_for("draft - not for diagnostic use until signed") == DRAFT_NOTICE
        True
        >>> notice_for(None) == DRAFT_NOTICE
        True
    """
    text = (status or "").strip()
    return text if text.startswith("final - signed by ") else DRAFT_NOTICE


#: Private coding scheme designator of radcycle's own concepts (DICOM PS3.3 8.2).
LOCAL_SCHEME = "99RADCYCLE"

#: FHIR code system URIs for the DICOM coding scheme designators used here.
FHIR_SYSTEMS = {
    "SCT": "http://snomed.info/sct",
    "DCM": "http://dicom.nema.org/resources/ontology/DCM",
    "LN": "http://loinc.org",
    "UCUM": "http://unitsofmeasure.org",
    LOCAL_SCHEME: "urn:radcycle:codes",
}


@dataclass(frozen=True)
class Concept:
    """One coded concept: coding scheme designator, code value, code meaning."""

    scheme: str
    value: str
    meaning: str


def local_concept(value: str, meaning: str) -> Concept:
    """A concept in radcycle's private scheme (where no standard code exists)."""
    return Concept(LOCAL_SCHEME, value, meaning)


#: MeasurementName value -> concept name of the TID 300 measurement / FHIR Observation.
MEASUREMENT_CODES = {
    "long_axis": Concept("SCT", "103339001", "Long axis"),
    "short_axis": Concept("SCT", "103340004", "Short axis"),
    "volume": Concept("SCT", "118565006", "Volume"),
    "mean_attenuation": Concept("DCM", "112181", "Mean Attenuation Coefficient"),
    "max_suv": Concept("DCM", "126401", "SUVbw"),
    "solid_component": local_concept("SOLIDLA", "Solid component long axis"),
}

#: Derivation of a measurement (TID 300 row 7), where its name alone does not say it.
MEASUREMENT_DERIVATIONS = {"max_suv": Concept("SCT", "56851009", "Maximum")}

#: RECIST 1.1 target / non-target response (DICOM CID 6144) by category.
RECIST_RESPONSE_CODES = {
    ("target", "CR"): Concept("DCM", "112041", "Target Lesion Complete Response"),
    ("target", "PR"): Concept("DCM", "112042", "Target Lesion Partial Response"),
    ("target", "PD"): Concept("DCM", "112043", "Target Lesion Progressive Disease"),
    ("target", "SD"): Concept("DCM", "112044", "Target Lesion Stable Disease"),
    ("non_target", "CR"): Concept("DCM", "112045", "Non-Target Lesion Complete Response"),
    ("non_target", "non-CR/non-PD"): Concept(
        "DCM", "112046", "Non-Target Lesion Incomplete Response or Stable Disease"
    ),
    ("non_target", "PD"): Concept("DCM", "112047", "Non-Target Lesion Progressive Disease"),
}

#: DICOM CID 6147 response criteria and the concept names of a response evaluation.
RECIST_1_1 = Concept("DCM", "126081", "RECIST 1.1")
RESPONSE_EVALUATION_METHOD = Concept("DCM", "112021", "Response Evaluation Method")
CURRENT_RESPONSE = Concept("DCM", "112048", "Current Response")
BEST_OVERALL_RESPONSE = Concept("DCM", "112049", "Best Overall Response")
LUNG_RADS_CATEGORY = Concept("SCT", "1362105002", "Lung Imaging Reporting and Data System category")


def response_value(category: str) -> Concept:
    """An overall response category (CR, PR, SD, PD, NE, iUPD ...): private, no standard code.

    Example:
        >>> response_value("PR").value
        'OR-PR'
    """
    return local_concept(f"OR-{category}"[:16], f"Overall response {category}")


def lung_rads_value(category: str) -> Concept:
    """A Lung-RADS v2022 category value (0 to 4X, S): private, no standard code.

    Example:
        >>> lung_rads_value("4B").meaning
        'Lung-RADS 4B'
    """
    return local_concept(f"LR-{category}"[:16], f"Lung-RADS {category}")


NODULE_TYPE = local_concept("NODTYPE", "Nodule type")
MEASUREMENT_STATUS = local_concept("MSTATUS", "Measurement status")

_LOBES = {
    "RUL": ("right", Concept("SCT", "45653009", "Upper lobe of lung")),
    "RML": ("right", Concept("SCT", "72481006", "Middle lobe of right lung")),
    "RLL": ("right", Concept("SCT", "90572001", "Lower lobe of lung")),
    "LUL": ("left", Concept("SCT", "45653009", "Upper lobe of lung")),
    "LLL": ("left", Concept("SCT", "90572001", "Lower lobe of lung")),
}
_ORGANS = {
    "lung": Concept("SCT", "39607008", "Lung"),
    "liver": Concept("SCT", "10200004", "Liver"),
    "lymph node": Concept("SCT", "59441001", "Lymph Node"),
    "mediastinal lymph node": Concept("SCT", "62683002", "mediastinal lymph node"),
    "hilar lymph node": Concept("SCT", "53074004", "hilar lymph node"),
}
_LATERALITY = {
    "right": Concept("SCT", "24028007", "Right"),
    "left": Concept("SCT", "7771000", "Left"),
}
_LESION = Concept("SCT", "52988006", "Lesion")
_NODULE = Concept("SCT", "27925004", "Nodule")


def site_codes(
    organ: str | None, laterality: str | None, lobe: str | None
) -> tuple[Concept, Concept | None]:
    """Finding site (TID 1419 row 4) and its laterality for a lesion.

    The lobe wins over the organ where it is known; an organ outside the table is
    given in the private scheme with its own words.

    Example:
        >>> site, side = site_codes("lymph node", None, None)
        >>> site.value, side
        ('59441001', None)
    """
    if lobe and lobe.upper() in _LOBES:
        side, concept = _LOBES[lobe.upper()]
        return concept, _LATERALITY[side]
    word = (organ or "lesion").strip().lower()
    concept = _ORGANS.get(word) or local_concept(f"SITE-{word.upper()[:8]}", word)
    return concept, _LATERALITY.get((laterality or "").lower())


def finding_type(organ: str | None, kind: str | None) -> Concept:
    """Finding type (TID 1411 row 3): Nodule for lung nodules, Lesion otherwise."""
    if (organ or "").lower() == "lung" and kind in {"solid", "part-solid", "ground-glass"}:
        return _NODULE
    return _LESION
