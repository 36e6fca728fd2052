"""``--json`` prints JSON on stdout, on every command.

Commands quick to run on a small input have their case here; the others are
parsed as JSON by a test of their own, named in :data:`ELSEWHERE` (checked to
exist, to pass ``--json`` and to parse the output). A command with neither
fails :func:`test_every_command_has_a_json_case`.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.privacy.keys import generate_keyfile
from tests.cli.test_conventions import NAMES, NO_JSON
from tests.hostile.cases import chest_volume, write_volume

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

#: Command -> "tests/FILE.py::function" that runs it with --json and parses stdout.
ELSEWHERE = {
    "serve": "tests/service/test_restart.py::spawn_serve",
    "user add": "tests/service/test_cli.py::test_db_upgrade_user_add_and_audit_verify",
    "db upgrade": "tests/service/test_cli.py::test_db_upgrade_user_add_and_audit_verify",
    "audit verify": "tests/service/test_restart.py::_audit",
    "inspect": "tests/cli/test_inspect.py::test_inspect_json_lists_series_and_file_outcomes",
    "segment": "tests/cli/test_lesion_cmd.py::test_segment_then_measure",
    "measure": "tests/cli/test_lesion_cmd.py::test_segment_then_measure",
    "detect": "tests/cli/test_lesion_cmd.py::test_detect_json_in_lps_mm",
    "radiomics": "tests/imaging/radiomics/test_cli.py::"
    "test_undefined_features_are_json_null_and_table_prints",
    "follow": "tests/pipeline/test_follow.py::test_cli_follow_writes_json_and_charts",
    "analyze": "tests/cli/test_analyze_verify.py::analysed",
    "verify": "tests/cli/test_analyze_verify.py::"
    "test_verify_accepts_the_report_and_rejects_a_falsified_line",
    "record": "tests/clinical/test_cli.py::test_record_json",
    "mine": "tests/clinical/test_cli.py::test_mine_several_files_are_json_lines",
    "deid-check": "tests/privacy/test_check.py::_check",
    "demo": "tests/cli/test_demo.py::test_demo_runs_every_step",
    "batch radiomics": "tests/batch/test_radiomics.py::_batch",
    "batch deid": "tests/batch/test_deid.py::test_batch_deid_gives_the_single_commands_files",
    "batch analyze": "tests/batch/test_analyze.py::"
    "test_batch_analyze_gives_the_single_commands_findings",
    "fl make-sites": "tests/fl/test_sites.py::test_cli_make_sites_json",
    "pacs echo": "tests/pacs/test_cli.py::test_echo_over_both_protocols",
    "pacs find": "tests/pacs/test_cli.py::test_store_a_mixed_folder_find_it_and_retrieve_it",
    "pacs retrieve": "tests/pacs/test_cli.py::test_store_a_mixed_folder_find_it_and_retrieve_it",
    "pacs store": "tests/pacs/test_cli.py::test_store_a_mixed_folder_find_it_and_retrieve_it",
    "listen": "tests/pacs/test_cli.py::_listen",
    "train-segmenter": "tests/models/test_models.py::"
    "test_train_segmenter_writes_weights_and_record",
    "model-card": "tests/models/test_models.py::test_model_card_is_the_registrys",
}


def _synth(folder: Path) -> list[str]:
    return ["synth", "--out", str(folder / "p"), "--timepoints", "1", "--slices", "16"]


def _keygen(folder: Path) -> list[str]:
    return ["deid-keygen", "--out", str(folder / "site.key")]


def _deid(folder: Path) -> list[str]:
    key = folder / "k.key"
    generate_keyfile(key)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": []}
    (folder / "b.json").write_text(json.dumps(bundle))
    return ["deid", str(folder / "b.json"), "--out", str(folder / "o.json"), "--key", str(key)]


def _qc(folder: Path) -> list[str]:
    return ["qc", str(write_volume(chest_volume(modality="CT"), folder / "ct.nii.gz"))]


def _check_synth(data: Any, folder: Path) -> None:
    assert data["out"] == str(folder / "p")
    (tp,) = data["timepoints"]
    assert tp["shape_ijk"][2] == 16
    assert tp["lesions"]


def _check_keygen(data: Any, folder: Path) -> None:
    assert data == {"key": str(folder / "site.key"), "mode": "0600"}


def _check_deid(data: Any, folder: Path) -> None:
    assert data == {"kind": "fhir", "out": str(folder / "o.json")}


def _check_qc(data: Any, folder: Path) -> None:
    (series,) = data
    assert series["source"] == str(folder / "ct.nii.gz")


CASES: dict[str, tuple[Callable[[Path], list[str]], Callable[[Any, Path], None]]] = {
    "synth": (_synth, _check_synth),
    "deid-keygen": (_keygen, _check_keygen),
    "deid": (_deid, _check_deid),
    "qc": (_qc, _check_qc),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_parses(name: str, tmp_path: Path) -> None:
    build, check = CASES[name]
    argv = [*build(tmp_path), "--json"]
    result = runner.invoke(build_app(argv), argv)
    assert result.exit_code == 0, result.output
    check(json.loads(result.stdout), tmp_path)


def _function_source(reference: str) -> str:
    path, _, name = reference.partition("::")
    text = (ROOT / path).read_text()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node) or ""
    raise AssertionError(f"{reference}: no such test function")


@pytest.mark.parametrize("name", sorted(ELSEWHERE))
def test_elsewhere_names_a_test_that_parses_json(name: str) -> None:
    source = _function_source(ELSEWHERE[name])
    assert '"--json"' in source, ELSEWHERE[name]
    assert "json.loads" in source, ELSEWHERE[name]
    assert f'"{name.split()[-1]}"' in source, ELSEWHERE[name]


def test_every_command_has_a_json_case() -> None:
    missing = sorted(set(NAMES) - set(CASES) - set(ELSEWHERE) - set(NO_JSON))
    assert not missing, f"commands whose --json no test parses: {missing}"
    assert not (set(CASES) & set(ELSEWHERE))
