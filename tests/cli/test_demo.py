from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from radcycle.cli.main import build_app


def test_demo_runs_every_step(tmp_path: Path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        build_app(),
        [
            "demo",
            "--out",
            str(out),
            "--random-seed",
            "3",
            "--timepoints",
            "2",
            "--slices",
            "40",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "patient" / "truth.json").read_text())
    assert len(truth["timepoints"]) == 2
    steps = (
        "1. a synthetic patient",
        "2. what the folder holds",
        "3. the clinical record",
        "4. lung nodules on the baseline CT",
        "5. follow-up over time",
        "6. the draft report",
    )
    for step in steps:
        assert step in result.output
    follow = json.loads((out / "follow" / "follow.json").read_text())
    assert len(follow["timepoints"]) == 2
    assert (out / "follow" / "waterfall.png").read_bytes()[:4] == b"\x89PNG"
    # the record's treatment and diagnosis steer the follow-up: iRECIST only on
    # immunotherapy, Fleischner off with a known lung cancer
    text = " ".join(result.output.split())
    assert "--known-cancer" in text
    assert ("--immunotherapy" in text) == (truth["treatment"] == "pembrolizumab")
    assert "80 loaded" in result.output
    report = out / "analysis" / "report.txt"
    assert "NOT FOR DIAGNOSTIC USE" in report.read_text()
    assert "report.txt" in result.output
    assert json.loads((out / "analysis" / "findings.json").read_text())["lesions"]
    assert "not for diagnostic use without review" in " ".join(result.output.split())
    # with --json, stdout is one JSON document and the steps' text went to stderr
    summary = json.loads(result.stdout)
    assert summary["report"] == str(report)
    assert {"findings.json", "report.json", "report.pdf"} <= set(summary["files"])
    assert summary["status"].startswith("draft")
    assert "1. a synthetic patient" in result.stderr
    # one command from the review UI: the patient is a case of the service's database
    service = summary["service"]
    assert service["command"] == f"radcycle serve --data {out / 'service'}"
    assert service["url"] == "http://127.0.0.1:8000/cases/1"
    assert "7. the review service" in result.stderr
    login = Path(service["password_file"])
    assert login.stat().st_mode & 0o077 == 0
    assert "password: " in login.read_text()
