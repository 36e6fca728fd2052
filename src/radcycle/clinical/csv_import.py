"""A documented CSV format for sites without FHIR, read into a ClinicalRecord.

One fact per row; the header names the columns (order free, unknown columns
ignored). Required: ``kind``. Other columns, used as the kind needs them:

=============  ==============================================================
column         meaning
=============  ==============================================================
kind           patient, diagnosis, lab, tumour_marker, smoking, genomic,
               medication, procedure, report, imaging_study
id             the fact's id in the source system (provenance; default: row)
date           YYYY-MM-DD (start for medications, onset for diagnoses)
end_date       YYYY-MM-DD, medications only
code           code of the fact (LOINC, SNOMED CT, RxNorm, ICD-10)
name           what it is ("CEA", "Adenocarcinoma of lung", "pembrolizumab")
value          a number (labs); a text result goes in ``text``
unit           UCUM unit of ``value``
ref_low        lower reference limit (labs)
ref_high       upper reference limit (labs)
text           text result, report text, or stage for a diagnosis
category       procedure or report category ("radiotherapy", "pathology")
study_uid      StudyInstanceUID (imaging_study)
modality       DICOM modality (imaging_study)
patient_id     patient rows: the patient identifier
birth_date     patient rows: YYYY-MM-DD
sex            patient rows: M, F, O
=============  ==============================================================

A row that cannot be read becomes a RecordIssue (``csv/<row>``) and the
others still load.

Example:
    >>> text = "kind,date,name,value,unit,ref_high\\nlab,2024-01-02,CEA,3.1,ng/mL,5\\n"
    >>> record = parse_csv(text)
    >>> record.labs[0].value, record.labs[0].source
    (3.1, 'csv/row 2')
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from datetime import date

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
from radcycle.errors import DataFormatError, InputError

__all__ = ["CSV_COLUMNS", "CSV_KINDS", "parse_csv"]

CSV_COLUMNS: tuple[str, ...] = (
    "kind", "id", "date", "end_date", "code", "name", "value", "unit", "ref_low", "ref_high",
    "text", "category", "study_uid", "modality", "patient_id", "birth_date", "sex",
)  # fmt: skip

Row = dict[str, str]


def _date(row: Row, column: str) -> date | None:
    value = row.get(column, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"column {column!r} is not a YYYY-MM-DD date: {value!r}") from exc


def _number(row: Row, column: str) -> float | None:
    value = row.get(column, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise ValueError(f"column {column!r} is not a number: {value!r}") from exc
    if not math.isfinite(number):
        raise ValueError(f"column {column!r} is not a finite number: {value!r}")
    return number


def _lab(kind: str) -> Callable[[Row, str], LabResult]:
    def read(row: Row, src: str) -> LabResult:
        return LabResult(
            source=src,
            date=_date(row, "date"),
            code=row.get("code", ""),
            name=row.get("name", ""),
            value=_number(row, "value"),
            unit=row.get("unit", ""),
            value_text=row.get("text", ""),
            reference_low=_number(row, "ref_low"),
            reference_high=_number(row, "ref_high"),
            kind=kind,
        )

    return read


def _patient(row: Row, _src: str) -> Patient:
    pid = row.get("patient_id") or row.get("id") or ""
    return Patient(
        patient_id=pid,
        name=row.get("name", ""),
        birth_date=_date(row, "birth_date"),
        sex=row.get("sex", ""),
    )


_READERS: dict[str, Callable[[Row, str], object]] = {
    "patient": _patient,
    "diagnosis": lambda r, s: Diagnosis(
        s, _date(r, "date"), r.get("code", ""), r.get("name", ""), r.get("text", "")
    ),
    "lab": _lab("lab"),
    "tumour_marker": _lab("tumour_marker"),
    "smoking": _lab("smoking"),
    "genomic": _lab("genomic"),
    "medication": lambda r, s: MedicationExposure(
        s, _date(r, "date"), _date(r, "end_date"), r.get("name", ""), r.get("code", ""), "", "csv"
    ),
    "procedure": lambda r, s: ProcedureEvent(
        s, _date(r, "date"), r.get("code", ""), r.get("name", ""), r.get("category", "")
    ),
    "report": lambda r, s: ReportDocument(
        s,
        _date(r, "date"),
        r.get("code", ""),
        r.get("name", ""),
        r.get("text", ""),
        r.get("category", ""),
    ),
    "imaging_study": lambda r, s: ImagingStudyRef(
        s, _date(r, "date"), r.get("study_uid", ""), r.get("modality", ""), r.get("name", "")
    ),
}
CSV_KINDS: tuple[str, ...] = tuple(_READERS)
_FIELD_OF: dict[type, str] = {
    Diagnosis: "diagnoses", LabResult: "labs", MedicationExposure: "medications",
    ProcedureEvent: "procedures", ReportDocument: "reports", ImagingStudyRef: "studies",
}  # fmt: skip


def parse_csv(text: str | bytes, *, source: str | None = None) -> ClinicalRecord:
    """Read the CSV format described in this module into a clinical record.

    Args:
        text: the CSV text or bytes (encoding from its byte-order mark), with a header row.
        source: the file name, for error messages.

    Returns:
        The record; unreadable rows are listed in ``issues``.

    Raises:
        DataFormatError: not text, no header or no ``kind`` column, or two patients.
    """
    text = decode_text(text, source=source)
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "kind" not in [f.strip() for f in reader.fieldnames]:
        raise DataFormatError(
            "CSV header has no 'kind' column", path=source, value=reader.fieldnames
        )
    parts: dict[str, list[object]] = {name: [] for name in _FIELD_OF.values()}
    issues: list[RecordIssue] = []
    patient: tuple[Patient, str] | None = None
    for number, raw in enumerate(reader, start=2):  # row 1 is the header
        row = {str(k).strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        src = f"csv/{row.get('id') or f'row {number}'}"
        read = _READERS.get(row.get("kind", "").lower())
        if read is None:
            issues.append(
                RecordIssue(
                    "csv",
                    f"row {number}",
                    f"unknown kind {row.get('kind')!r}; use one of {', '.join(CSV_KINDS)}",
                )
            )
            continue
        try:
            fact = read(row, src)
        except (ValueError, InputError) as exc:
            issues.append(RecordIssue("csv", f"row {number}", str(exc)))
            continue
        if isinstance(fact, Patient):
            if patient is not None and patient[0].patient_id != fact.patient_id:
                raise DataFormatError(
                    "the CSV holds two patients; split it into one file per patient",
                    path=source,
                    tag="kind=patient",
                    value=[patient[0].patient_id, fact.patient_id],
                )
            patient = (fact, src)
        else:
            parts[_FIELD_OF[type(fact)]].append(fact)
    return ClinicalRecord(
        patient=patient[0] if patient else None,
        patient_source=patient[1] if patient else "",
        issues=tuple(issues),
        **{name: tuple(values) for name, values in parts.items()},  # type: ignore[arg-type]
    )
