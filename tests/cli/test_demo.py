from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from radcycle.cli.main import build_app


def test_demo_runs_every_step(tmp_path: Path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        build_app(), ["demo", str(out), "--seed", "3", "--timepoints", "2", "--slices", "24"]
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "patient" / "truth.json").read_text())
    assert len(truth["timepoints"]) == 2
    for step in ("1. a synthetic patient", "2. what the folder holds", "3. the clinical record"):
        assert step in result.output
    assert "48 loaded" in result.output
    assert "not for diagnostic use without review" in " ".join(result.output.split())
