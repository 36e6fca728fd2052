"""``radcycle analyze`` and ``radcycle verify`` end to end, and their bad inputs."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.reporting.report import Report
from radcycle.reporting.suite import adversarial_cases, paraphrase_cases, score
from radcycle.synth import generate_patient, write_patient

runner = CliRunner()
PRIOR = "Findings: Possible 6 mm nodule in the right upper lobe. No pleural effusion.\n"


def _schema() -> dict:
    text = resources.files("radcycle.reporting").joinpath("findings.schema.json").read_text()
    return json.loads(text)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("analyze")
    folder = write_patient(generate_patient(2, timepoints=2, slices=40, matrix=192), root / "p")
    prior = root / "prior.txt"
    prior.write_text(PRIOR)
    studies = sorted(str(p) for p in folder.iterdir() if p.is_dir())
    out = root / "out"
    args = ["analyze", *reversed(studies), "--fhir", str(folder / "fhir_bundle.json")]
    argv = [*args, "--prior-report", str(prior), "--out", str(out), "--json"]
    result = runner.invoke(build_app(), argv)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # --json: stdout is the summary alone
    assert summary["out"] == str(out)
    assert {"findings.json", "report.txt"} <= set(summary["files"])
    return out


@pytest.mark.slow
def test_findings_follow_the_schema_and_the_report_cites_them(analysed: Path) -> None:
    findings = json.loads((analysed / "findings.json").read_text())
    jsonschema.validate(findings, _schema())
    assert len(findings["studies"]) == 2
    assert findings["lesions"]
    lesion = findings["lesions"][0]
    assert {"long_axis_mm", "short_axis_mm", "volume_mm3"} <= set(lesion["time_points"][0])
    report = json.loads((analysed / "report.json").read_text())
    assert report["status"] == "draft - not for diagnostic use until signed"
    ids = {f["id"] for f in report["facts"]}
    for section in report["sections"]:
        for sentence in section["sentences"]:
            assert set(sentence["fact_ids"]) <= ids
    assert any(f["name"] == "prior_finding_uncertain" for f in report["facts"])
    assert "NOT FOR DIAGNOSTIC USE" in (analysed / "report.txt").read_text()
    assert not [p for p in analysed.parent.iterdir() if p.name.startswith(".out.")]
    # every lesion has an assessment fact at every time point it is followed on
    facts = report["facts"]
    for les in findings["lesions"]:
        for point in les["time_points"]:
            (assessed,) = [
                f
                for f in facts
                if f["name"] == "assessment"
                and f["tracking_identifier"] == les["tracking_identifier"]
                and f["time_point"] == point["date"]
            ]
            measured = point["long_axis_mm"] is not None or point["short_axis_mm"] is not None
            assert (assessed["value"] == "measured") == measured
    # the record names a lung cancer: Lung-RADS, a screening scheme, does not apply
    lung_rads = [f for f in facts if f["name"] == "lung-rads_category"]
    assert lung_rads
    assert {f["value"] for f in lung_rads} == {"not applicable"}
    assert "is not applicable" in (analysed / "report.txt").read_text()


@pytest.mark.slow
def test_every_sr_and_seg_of_the_analysis_validates(analysed: Path) -> None:
    from tests.reporting.export.conftest import dciodvfy_errors

    written = sorted([*analysed.glob("sr_*.dcm"), *analysed.glob("seg_*.dcm")])
    assert len(written) >= 3  # an SR per study, a SEG where a lesion was outlined
    for path in written:
        assert dciodvfy_errors(path) == [], path.name


@pytest.mark.slow
def test_verify_accepts_the_report_and_rejects_a_falsified_line(analysed: Path) -> None:
    text = (analysed / "report.txt").read_text().splitlines()
    body = [line for line in text if line and not line.isupper() and ":" not in line[:8]]
    good = analysed.parent / "good.txt"
    good.write_text("\n".join(body))
    ok = runner.invoke(build_app(), ["verify", str(analysed / "findings.json"), str(good)])
    assert ok.exit_code == 0, ok.output
    bad = analysed.parent / "bad.txt"
    bad.write_text("Lesion 97 measures 31.0 mm.\n")
    result = runner.invoke(
        build_app(), ["verify", str(analysed / "findings.json"), str(bad), "--json"]
    )
    assert result.exit_code == 1
    (verdict,) = json.loads(result.output)
    assert verdict["supported"] is False
    assert verdict["reasons"]


@pytest.mark.slow
def test_adversarial_and_paraphrase_suites_on_a_real_analysis(analysed: Path) -> None:
    report = Report.from_dict(json.loads((analysed / "report.json").read_text()))
    facts = report.facts
    adversarial = score(adversarial_cases(report), facts)
    assert adversarial.false_total > 20
    assert adversarial.catch_rate == 1.0, adversarial.misses
    paraphrases = score(paraphrase_cases(report), facts)
    assert paraphrases.acceptance >= 0.95, paraphrases.misses


def _invoke(*args: str):
    return runner.invoke(build_app(), list(args))


def _one_line_error(result) -> None:
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[0].startswith("error:")
    assert "Traceback" not in result.output


def test_a_folder_with_no_image_series_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here")
    result = _invoke("analyze", str(tmp_path / "empty"), "--out", str(tmp_path / "out"))
    _one_line_error(result)
    assert "no CT image series" in result.output
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]


def _input_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


def test_an_output_inside_an_input_folder_is_refused(tmp_path: Path) -> None:
    folder = _input_folder(tmp_path)
    result = _invoke("analyze", str(folder), "--out", str(folder / "out"))
    _one_line_error(result)
    assert "inside an input folder" in result.output
    assert list(folder.iterdir()) == []


def test_an_unparseable_fhir_bundle_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text("{not json")
    folder = _input_folder(tmp_path)
    result = _invoke("analyze", str(folder), "--fhir", str(bundle), "--out", str(tmp_path / "o"))
    _one_line_error(result)
    assert not (tmp_path / "o").exists()


def test_a_binary_prior_report_is_refused(tmp_path: Path) -> None:
    prior = tmp_path / "prior.pdf"
    prior.write_bytes(b"%PDF-1.4\x00\x01\x02binary")
    folder = _input_folder(tmp_path)
    result = _invoke(
        "analyze", str(folder), "--prior-report", str(prior), "--out", str(tmp_path / "o")
    )
    _one_line_error(result)
    assert "binary" in result.output


def test_an_existing_output_folder_is_refused_without_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = _invoke("analyze", str(_input_folder(tmp_path)), "--out", str(out))
    _one_line_error(result)
    assert "--force" in result.output
    assert (out / "keep.txt").read_text() == "mine"


def test_a_gguf_that_is_not_one_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_text("hello")
    folder = _input_folder(tmp_path)
    result = _invoke("analyze", str(folder), "--gguf", str(model), "--out", str(tmp_path / "o"))
    _one_line_error(result)
    assert "not a GGUF" in result.output


def test_verify_refuses_a_file_without_facts(tmp_path: Path) -> None:
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps({"lesions": []}))
    text = tmp_path / "t.txt"
    text.write_text("Lesion 1 measures 5 mm.")
    _one_line_error(_invoke("verify", str(findings), str(text)))


@pytest.mark.realdata
@pytest.mark.slow
def test_suites_on_the_ibsi_lung_ct(shared_data: Path, tmp_path: Path) -> None:
    # IBSI 1 PAT1: a real lung cancer CT without a StudyDate; the tumour is clicked.
    image = shared_data / "ibsi" / "ibsi_1_ct_radiomics_phantom" / "dicom" / "image"
    out = tmp_path / "pat1"
    result = _invoke(
        "analyze",
        str(image),
        "--lesion=-74.5,16.3,-18.7",
        "--exam-date",
        "2024-01-10",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    jsonschema.validate(json.loads((out / "findings.json").read_text()), _schema())
    report = Report.from_dict(json.loads((out / "report.json").read_text()))
    facts = report.facts
    assert "mass" in report.to_text()
    adversarial = score(adversarial_cases(report), facts)
    assert adversarial.catch_rate == 1.0, adversarial.misses
    assert score(paraphrase_cases(report), facts).acceptance >= 0.95
    # no record: Lung-RADS is given, and called a screening category
    assert "Lung-RADS v2022 screening category 4B on 2024-01-10." in report.to_text()
    (per_nodule,) = [f for f in facts if f.id == "f-lesion-1-2024-01-10-lung_rads"]
    assert per_nodule.value == "4B"
    # the SR carries it inside the lesion's own group; SR and SEG validate
    import highdicom as hd

    from tests.reporting.export.conftest import dciodvfy_errors

    sr = hd.sr.srread(out / "sr_2024-01-10.dcm")
    (group,) = sr.content.get_volumetric_roi_measurement_groups(
        tracking_uid=per_nodule.tracking_uid
    )
    values = {(e.name.value, e.value.value) for e in group.get_qualitative_evaluations()}
    assert ("1362105002", "LR-4B") in values
    assert dciodvfy_errors(out / "sr_2024-01-10.dcm") == []
    assert dciodvfy_errors(out / "seg_2024-01-10.dcm") == []
