"""Hostile inputs to ``radcycle record``: mixed patients, non-finite numbers, encodings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.cases import Case, ids, run_case

HEADER = "kind,id,date,end_date,code,name,value,unit,patient_id\n"


def _bundle(*resources: dict[str, object]) -> dict[str, object]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def _patient(pid: str) -> dict[str, object]:
    return {"resourceType": "Patient", "id": pid, "birthDate": "1950-01-01", "gender": "male"}


def _condition(cid: str, pid: str, name: str) -> dict[str, object]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"text": name},
        "onsetDateTime": "2020-01-01",
    }


def _json(folder: Path, text: str | bytes) -> list[str]:
    path = folder / "bundle.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return [str(path), "--json"]


def _csv(folder: Path, text: str, encoding: str = "utf-8") -> list[str]:
    path = folder / "record.csv"
    path.write_bytes(text.encode(encoding))
    return [str(path), "--json"]


def _two_patients(folder: Path) -> list[str]:
    bundle = _bundle(_patient("p1"), _condition("c1", "p1", "lung cancer"), _patient("p2"))
    return _json(folder, json.dumps(bundle))


def _foreign_condition(folder: Path) -> list[str]:
    bundle = _bundle(_patient("p1"), _condition("c9", "p9", "melanoma"))
    return _json(folder, json.dumps(bundle))


def _nan_in_json(folder: Path) -> list[str]:
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"text": "CEA"},
        "valueQuantity": {"value": float("nan"), "unit": "ng/mL"},
    }
    return _json(folder, json.dumps(_bundle(_patient("p1"), obs)))


def _deep(folder: Path, depth: int) -> list[str]:
    return _json(folder, '{"resourceType": "Bundle", "entry": ' + "[" * depth + "]" * depth + "}")


def _csv_rows(*rows: str) -> str:
    return HEADER + "patient,p1,,,,,,,p1\n" + "".join(f"{r}\n" for r in rows)


CASES = [
    Case("two-patients-fhir", _two_patients, says=r"bundle\.json.*several Patient.*p1.*p2"),
    Case(
        "other-subject-kept-out",
        _foreign_condition,
        exit_code=0,
        says=r"about Patient/p9",
        never=r'"name": "melanoma"',
    ),
    Case("nan-in-json", _nan_in_json, says=r"NaN is not a JSON value"),
    Case("deep-json", lambda f: _deep(f, 100_000), says=r"bundle\.json.*nested too deeply"),
    Case("deep-json-900", lambda f: _deep(f, 900), exit_code=0, says=r"errors"),
    Case(
        "utf-16-json",
        lambda f: _json(f, json.dumps(_bundle(_patient("p1"))).encode("utf-16")),
        0,
        r'"id": "p1"',
    ),
    Case(
        "two-patients-csv",
        lambda f: _csv(f, _csv_rows("patient,p2,,,,,,,p2")),
        says=r"two patients.*p1.*p2",
    ),
    Case(
        "csv-nan-value",
        lambda f: _csv(f, _csv_rows("lab,l1,2024-01-01,,2039-6,CEA,nan,ng/mL,")),
        exit_code=0,
        says=r"not a finite number: 'nan'",
        never=r":\s*-?(NaN|Infinity)\b",
    ),
    Case(
        "csv-inf-value",
        lambda f: _csv(f, _csv_rows("lab,l1,2024-01-01,,2039-6,CEA,-inf,ng/mL,")),
        exit_code=0,
        says=r"not a finite number: '-inf'",
        never=r":\s*-?(NaN|Infinity)\b",
    ),
    Case(
        "medication-ends-before-start",
        lambda f: _csv(f, _csv_rows("medication,m1,2024-05-01,2024-01-01,,cisplatin,,,")),
        exit_code=0,
        says=r"ends \(2024-01-01\) before it starts",
        never=r'"agents": \[\s*"cisplatin"',
    ),
    Case(
        "utf-16-csv",
        lambda f: _csv(f, _csv_rows("lab,l1,2024-01-01,,2039-6,CEA,4.2,ng/mL,"), "utf-16"),
        exit_code=0,
        says=r'"latest": 4\.2',
    ),
    Case("binary-csv", lambda f: _csv(f, "\x00\x01\x02" * 50, "latin-1"), says="not text"),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_record_hostile(case: Case, tmp_path: Path) -> None:
    result = run_case("record", case, tmp_path)
    if case.exit_code == 0:
        json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))


HOSTILE = {"record": CASES}
