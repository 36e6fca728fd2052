"""The documented CSV import for sites without FHIR."""

from __future__ import annotations

from datetime import date

import pytest

from radcycle.clinical.csv_import import parse_csv
from radcycle.clinical.timeline import lab_trends, lines_of_therapy
from radcycle.errors import DataFormatError

CSV = """\
kind,id,date,end_date,code,name,value,unit,ref_low,ref_high,text,study_uid,modality,patient_id,sex,birth_date
patient,,,,,,,,,,,,,P-7,M,1950-05-06
diagnosis,dx1,2024-01-10,,C34.1,Adenocarcinoma of lung,,,,,cT2aN0M0,,,,,
tumour_marker,l1,2024-01-08,,2039-6,CEA,4,ng/mL,0,5,,,,,,
tumour_marker,l2,2024-06-01,,2039-6,CEA,8.4,ng/mL,0,5,,,,,,
genomic,g1,2024-01-20,,,EGFR exon 19 deletion,,,,,detected,,,,,
medication,m1,2024-02-01,2024-11-01,,osimertinib,,,,,,,,,,
imaging_study,s1,2024-05-02,,,CT chest,,,,,,1.2.3.4,CT,,,
lab,bad,2024-13-40,,718-7,Hemoglobin,12,g/dL,,,,,,,,
lab,bad2,2024-01-01,,718-7,Hemoglobin,twelve,g/dL,,,,,,,,
"""


def test_csv_rows_become_facts() -> None:
    record = parse_csv(CSV.encode(), source="record.csv")
    assert record.patient is not None
    assert record.patient.patient_id == "P-7"
    assert record.diagnoses[0].stage == "cT2aN0M0"
    assert record.studies[0].study_instance_uid == "1.2.3.4"
    assert [lab.kind for lab in record.labs] == ["tumour_marker", "tumour_marker", "genomic"]
    (cea,) = [t for t in lab_trends(record.labs) if t.code == "2039-6"]
    assert cea.doubled
    assert cea.above_reference
    assert cea.sources == ("csv/l1", "csv/l2")
    (line,) = lines_of_therapy(record.medications)
    assert (line.agents, line.end) == (("osimertinib",), date(2024, 11, 1))


def test_bad_rows_are_issues_and_the_rest_loads() -> None:
    record = parse_csv(CSV)
    messages = {i.resource_id: i.message for i in record.issues}
    assert "date" in messages["row 9"]
    assert "number" in messages["row 10"]
    assert len(record.labs) == 3


def test_unknown_kind_names_the_choices() -> None:
    (issue,) = parse_csv("kind,name\nspaceship,x\n").issues
    assert "spaceship" in issue.message
    assert "medication" in issue.message


def test_header_needs_kind() -> None:
    with pytest.raises(DataFormatError, match="kind"):
        parse_csv("name,value\nCEA,3\n", source="x.csv")
