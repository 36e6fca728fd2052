"""``radcycle record`` and ``radcycle mine`` through the typer app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from radcycle.cli.main import build_app

runner = CliRunner()

OPENI_XML = """<?xml version="1.0" encoding="utf-8"?>
<eCitation><uId id="CXR9"/><MedlineCitation><Article><Abstract>
<AbstractText Label="COMPARISON">None.</AbstractText>
<AbstractText Label="INDICATION">Pneumonia?</AbstractText>
<AbstractText Label="FINDINGS">Heart is mildly enlarged. No pneumothorax.</AbstractText>
<AbstractText Label="IMPRESSION">Cardiomegaly. Small left pleural effusion.</AbstractText>
</Abstract></Article></MedlineCitation><MeSH><major>Cardiomegaly/mild</major></MeSH></eCitation>
"""


def test_record_json(tmp_path: Path, bundle: dict[str, Any]) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    result = runner.invoke(build_app(), ["record", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["patient"]["id"] == "p1"
    assert [line["number"] for line in summary["lines_of_therapy"]] == [1, 2]
    cea = next(lab for lab in summary["labs"] if lab["code"] == "2039-6")
    assert cea["doubled"] is True
    assert cea["sources"][1] == "Observation/cea3"
    study = next(s for s in summary["studies"] if s["source"] == "ImagingStudy/s1")
    assert study["current_treatment"]["immunotherapy"] is True
    assert summary["errors"][0]["id"] == "bad1"
    (report,) = summary["reports"]
    (mass,) = report["prior_findings"]
    assert (mass["label"], mass["size_mm"], mass["site"]) == ("Lung Lesion", 21.0, "upper lobe")


def test_record_text(tmp_path: Path, bundle: dict[str, Any]) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    result = runner.invoke(build_app(), ["record", str(path)])
    assert result.exit_code == 0, result.output
    assert "line 1" in result.output
    assert "immunotherapy" in result.output
    assert "Observation/bad1" in result.output
    assert "Lung Lesion: True 21 mm right upper lobe" in result.output


def test_record_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(build_app(), ["record", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert "no such file" in result.output
    assert "Traceback" not in result.output


def test_record_bad_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{oops")
    result = runner.invoke(build_app(), ["record", str(path)])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output


def test_mine_one_file_is_one_object(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_text("FINDINGS: 4 x 5 mm nodule in the left lower lobe. No effusion.")
    result = runner.invoke(build_app(), ["mine", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["path"] == str(path)
    nodule = next(f for f in data["findings"] if f["label"] == "Lung Lesion")
    assert (nodule["present"], nodule["size_mm"], nodule["laterality"]) == (True, 5.0, "left")
    effusion = next(f for f in data["findings"] if f["label"] == "Pleural Effusion")
    assert effusion["present"] is False


def test_mine_several_files_are_json_lines(tmp_path: Path) -> None:
    text = tmp_path / "a.txt"
    text.write_text("IMPRESSION: Cannot exclude pneumonia.")
    xml = tmp_path / "b.xml"
    xml.write_text(OPENI_XML)
    result = runner.invoke(build_app(), ["mine", str(text), str(xml), "--json"])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first["path"] == str(text)
    assert second["path"] == str(xml)
    assert next(f for f in first["findings"] if f["label"] == "Pneumonia")["present"] == "uncertain"
    labels = {f["label"]: f["present"] for f in second["findings"]}
    assert labels["Cardiomegaly"] is True
    assert labels["Pleural Effusion"] is True
    assert labels["Pneumothorax"] is False
    assert "Pneumonia" not in labels  # the indication is not mined
    assert set(second["sections"]) >= {"findings", "impression"}


def test_mine_text_output(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text("IMPRESSION: Stable 6 mm right upper lobe nodule. Recommend CT in 12 months.")
    result = runner.invoke(build_app(), ["mine", str(path)])
    assert result.exit_code == 0, result.output
    assert "Lung Lesion: True 6 mm right upper lobe" in result.output
    assert "recommendation" in result.output
