"""deid-check never silent about what it did not check."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.privacy.batch import deidentify_tree
from radcycle.privacy.check import NOT_FHIR, NOT_READABLE, NOT_SUPPORTED, RUN_MARKER, check_tree
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.profile import DeidOptions

from .planting import MRN, base, write

runner = CliRunner()


def _check(folder: Path, *extra: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(build_app(), ["deid-check", str(folder), "--json", *extra])
    return result.exit_code, json.loads(result.output)


def test_empty_folder_checked_nothing(tmp_path: Path) -> None:
    code, report = _check(tmp_path)
    assert code == 1
    assert report["problems"] == ["no DICOM or FHIR file was checked"]


def test_text_files_are_listed_as_not_checked(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(f"patient {MRN}\n", encoding="utf-8")
    (tmp_path / "b.json").write_text('{"counts": 1}', encoding="utf-8")
    (tmp_path / "c.json").write_text("{not json", encoding="utf-8")
    write(base("Quarrington^Philomena"), tmp_path / "d.dcm", "explicit")
    (tmp_path / "e.dcm").write_bytes((tmp_path / "d.dcm").read_bytes()[:400])
    report = check_tree(tmp_path)
    assert report.not_checked == {
        NOT_SUPPORTED: ["a.txt"],
        NOT_FHIR: ["b.json"],
        NOT_READABLE: ["c.json", "e.dcm"],
    }
    assert report.checked["dicom"] == ["d.dcm"]
    assert not report.clean


def test_fhir_nested_and_preambleless_files_are_checked(tmp_path: Path, key: DeidKey) -> None:
    deep = tmp_path / "a" / "b" / "c" / "d" / "e" / "f"
    deep.mkdir(parents=True)
    write(base("Quarrington^Philomena"), deep / "x", "no-preamble")
    note = base64.b64encode(f"Philomena Quarrington {MRN}".encode()).decode()
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {
                "resource": {
                    "resourceType": "DocumentReference",
                    "content": [{"attachment": {"contentType": "text/plain", "data": note}}],
                }
            }
        ],
    }
    (tmp_path / "r.json").write_text(json.dumps(bundle), encoding="utf-8-sig")
    resources = [{"resourceType": "Patient", "identifier": [{"value": MRN}]}] * 2
    ndjson = "\n".join(json.dumps(r) for r in resources)
    (tmp_path / "s.ndjson").write_text(ndjson, encoding="utf-8")
    report = check_tree(tmp_path, tmp_path)
    assert report.checked["dicom"] == ["a/b/c/d/e/f/x"]
    assert report.checked["fhir"] == ["r.json", "s.ndjson"]
    assert ("s.ndjson", "original-identity", MRN) in {
        (leak.file, leak.kind, leak.detail) for leak in report.leaks
    }
    fhir = {(leak.path, leak.detail) for leak in report.leaks if leak.file == "r.json"}
    assert ("entry[0].resource.content[0].attachment.data", MRN) in fhir
    assert ("entry[0].resource.content[0].attachment.data", "Philomena Quarrington") in fhir


def test_unfinished_run_is_reported(tmp_path: Path, key: DeidKey) -> None:
    src = tmp_path / "in"
    src.mkdir()
    write(base("Quarrington^Philomena"), src / "a.dcm", "explicit")
    out = tmp_path / "out"
    deidentify_tree(src, out, key, DeidOptions(), workers=1)
    assert check_tree(out, src).clean
    (out / RUN_MARKER).write_text("{}", encoding="utf-8")
    code, report = _check(out, "--originals", str(src))
    assert code == 1
    assert report["unfinished_run"] is True
    assert report["leaks"] == []
    assert report["checked"] == {"dicom": 1, "fhir": 0, "radcycle": 3}


def test_glued_dates_and_uids_outside_the_table_are_found(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    original = base("Quarrington^Philomena")
    write(original, src / "a.dcm", "explicit")
    leaked = base("PSEUDONYM^X")
    leaked.PatientID, leaked.PatientBirthDate, leaked.StudyDate = "X", "", ""
    leaked.PatientTelephoneNumbers = leaked.PatientAddress = leaked.AccessionNumber = ""
    leaked.SOPInstanceUID = leaked.StudyInstanceUID = leaked.SeriesInstanceUID = "2.25.1"
    leaked.FrameOfReferenceUID = "2.25.2"
    leaked.PatientIdentityRemoved = "YES"
    leaked.ExpirationDateTime = "20230314101530+0100"  # glued date, outside the table
    leaked.SOPInstanceUIDOfConcatenationSource = str(original.SOPInstanceUID)
    write(leaked, out / "b.dcm", "explicit")
    found = {(leak.kind, leak.detail) for leak in check_tree(out, src).leaks}
    assert ("original-visit-date", "20230314") in found
    assert ("original-uid", str(original.SOPInstanceUID)) in found
