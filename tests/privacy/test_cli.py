"""`radcycle deid-keygen`, `deid` and `deid-check` end to end."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.privacy.batch import MANIFEST_NAME, SUMMARY_NAME, read_manifest
from radcycle.privacy.keys import load_keyfile

from .conftest import ALICE

runner = CliRunner()


def test_keygen_deid_check(planted: Path, tmp_path: Path) -> None:
    app = build_app()
    keyfile = tmp_path / "deid.key"
    assert runner.invoke(app, ["deid-keygen", "--out", str(keyfile)]).exit_code == 0
    again = runner.invoke(app, ["deid-keygen", "--out", str(keyfile)])
    assert again.exit_code == 2
    assert "refusing to overwrite" in again.output

    before = runner.invoke(app, ["deid-check", str(planted), "--originals", str(planted), "--json"])
    assert before.exit_code == 1
    kinds = {leak["kind"] for leak in json.loads(before.output)["leaks"]}
    assert {"private", "curve-overlay", "not-marked", "original-identity"} <= kinds

    out = tmp_path / "out"
    args = ["deid", str(planted), "--out", str(out), "--key", str(keyfile), "--dates", "modified"]
    result = runner.invoke(app, [*args, "--clean-descriptors", "--clean-structured-content"])
    assert result.exit_code == 0, result.output
    assert "13 written" in result.output
    assert "skipped" in result.output
    assert (out / SUMMARY_NAME).is_file()
    assert (out / MANIFEST_NAME).is_file()
    assert ALICE.patient_id not in (out / SUMMARY_NAME).read_text()
    assert ALICE.patient_id.encode() not in (out / MANIFEST_NAME).read_bytes()
    records = read_manifest(out, load_keyfile(keyfile))
    assert {r.patient_id for r in records if r.output} == {ALICE.patient_id, "MRN-551903"}

    after = runner.invoke(app, ["deid-check", str(out), "--originals", str(planted)])
    assert after.exit_code == 0, after.output
    assert "no leaks found" in after.output


def test_deid_errors_are_friendly(tmp_path: Path) -> None:
    app = build_app()
    missing = runner.invoke(
        app, ["deid", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--key", "k"]
    )
    assert missing.exit_code == 2
    assert "error" in missing.output
    keyfile = tmp_path / "k"
    runner.invoke(app, ["deid-keygen", "--out", str(keyfile)])
    bad = runner.invoke(
        app,
        [
            "deid",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            "--key",
            str(keyfile),
            "--dates",
            "x",
        ],
    )
    assert bad.exit_code == 2
    assert "--dates" in bad.output


def test_fhir_bundle_through_cli(tmp_path: Path) -> None:
    app = build_app()
    keyfile = tmp_path / "k"
    runner.invoke(app, ["deid-keygen", "--out", str(keyfile)])
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "a",
                    "name": [{"family": "Zed"}],
                    "identifier": [{"value": "X123"}],
                }
            }
        ],
    }
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    result = runner.invoke(
        app,
        [
            "deid",
            str(tmp_path / "b.json"),
            "--out",
            str(tmp_path / "o.json"),
            "--key",
            str(keyfile),
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads((tmp_path / "o.json").read_text())
    patient = out["entry"][0]["resource"]
    assert "name" not in patient
    assert patient["identifier"][0]["value"] == load_keyfile(keyfile).patient_id("X123")
