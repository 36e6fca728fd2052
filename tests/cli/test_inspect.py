from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from radcycle import __version__
from radcycle.cli.main import build_app
from tests.io.factory import write_series

runner = CliRunner()


def test_version():
    result = runner.invoke(build_app(), ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_inspect_json_lists_series_and_file_outcomes(tmp_path: Path):
    stack = np.full((3, 8, 8), 1000, dtype=np.uint16)
    write_series(tmp_path / "s", stack, [(0, 0, z) for z in (0.0, 2.0, 6.0)], patient_id="P7")
    (tmp_path / "readme.txt").write_text("not an image")
    result = runner.invoke(build_app(), ["inspect", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tally"] == {"loaded": 3, "skipped": 1, "error": 0}
    (patient,) = data["patients"]
    assert patient["patient_id"] == "P7"
    (series,) = patient["studies"][0]["series"]
    assert series["size"] == [8, 8, 4]
    assert series["slices"] == 4
    assert series["frames"] == 3
    assert series["spacing_mm"] == [0.7, 0.8, 2.0]
    assert [p["code"] for p in series["problems"]] == ["missing-slices"]
    skipped = [f for f in data["files"] if f["status"] == "skipped"]
    assert skipped[0]["path"].endswith("readme.txt")
    assert "not a DICOM" in skipped[0]["reason"]


def test_inspect_human_output_and_missing_path(tmp_path: Path):
    write_series(tmp_path, np.zeros((2, 4, 4), dtype=np.uint16), [(0, 0, 0), (0, 0, 1)])
    result = runner.invoke(build_app(), ["inspect", str(tmp_path)])
    assert result.exit_code == 0
    assert "2 loaded" in result.output
    missing = runner.invoke(build_app(), ["inspect", str(tmp_path / "absent")])
    assert missing.exit_code == 2
    assert "no such file or folder" in missing.output
    assert "Traceback" not in missing.output


def test_every_registered_command_is_listed_in_help():
    from radcycle.cli.main import COMMANDS

    result = runner.invoke(build_app(), ["--help"], terminal_width=200)
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f" {name} " in result.output, name


def test_one_command_loads_only_its_module():
    import subprocess
    import sys

    code = (
        "import sys; from radcycle.cli.main import build_app; build_app(['inspect', 'x']); "
        "print(any(m.startswith('radcycle.imaging.radiomics') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
