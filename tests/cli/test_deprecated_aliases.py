"""Each old spelling still works for one release: it warns, naming the new one, and
gives the same result as the new spelling."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from radcycle.cli import batch_cmd, demo_cmd
from radcycle.cli.main import build_app
from radcycle.cli.options import DeprecatedSpellingWarning
from radcycle.errors import ExportError
from radcycle.privacy.keys import generate_keyfile
from tests.cli.test_conventions import DEPRECATED
from tests.hostile.cases import chest_volume, nodule_point, write_volume

runner = CliRunner()


def _run(argv: list[str]) -> Any:
    return runner.invoke(build_app(argv), argv)


def _old(argv: list[str], old: str, new: str) -> Any:
    """Run ``argv`` (an old spelling): it must warn once, on stderr and as a warning."""
    with pytest.warns(DeprecatedSpellingWarning, match=f"{old} .*use {new}"):
        result = _run(argv)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any(old in line and f"use {new}" in line for line in warnings), result.stderr
    return result


def test_segment_seed_is_point(tmp_path: Path) -> None:
    volume = chest_volume(modality="CT")
    image = write_volume(volume, tmp_path / "ct.nii.gz")
    point = nodule_point(volume)
    new = _run(["segment", str(image), "--point", point, "--out", str(tmp_path / "a.nii.gz")])
    assert new.exit_code == 0, new.output
    argv = ["segment", str(image), "--seed", point, "--out", str(tmp_path / "b.nii.gz")]
    old = _old(argv, "--seed", "--point")
    assert old.exit_code == 0, old.output
    assert (tmp_path / "a.nii.gz").read_bytes() == (tmp_path / "b.nii.gz").read_bytes()
    assert new.stdout.replace("a.nii.gz", "b.nii.gz") == old.stdout


def test_segment_seed_repeated_keeps_every_click(tmp_path: Path) -> None:
    """``--seed`` given twice is two clicks, as ``--point`` twice is (not the last
    alone): the classical method, which takes one click, refuses both alike."""
    volume = chest_volume(modality="CT")
    image = write_volume(volume, tmp_path / "ct.nii.gz")
    point = nodule_point(volume)
    x, y, z = (float(v) for v in point.split(","))
    other = f"{x + 2.0},{y},{z}"
    tail = ["--method", "classical", "--out", str(tmp_path / "m.nii.gz")]
    new = _run(["segment", str(image), "--point", point, "--point", other, *tail])
    old = _old(
        ["segment", str(image), "--seed", point, "--seed", other, *tail], "--seed", "--point"
    )
    for result in (new, old):
        assert result.exit_code == 2, result.output
        assert "more --point clicks" in result.output
    both = _run(["segment", str(image), "--point", point, "--seed", other, *tail])
    assert both.exit_code == 2
    assert "give --point only" in both.output
    assert not (tmp_path / "m.nii.gz").exists()


def test_synth_positional_out_and_seed(tmp_path: Path) -> None:
    size = ["--timepoints", "1", "--slices", "16", "--matrix", "64"]
    new = _run(["synth", "--out", str(tmp_path / "a"), "--random-seed", "3", *size])
    assert new.exit_code == 0, new.output
    with pytest.warns(DeprecatedSpellingWarning, match="OUT as a positional"):
        old = _old(["synth", str(tmp_path / "b"), "--seed", "3", *size], "--seed", "--random-seed")
    assert old.exit_code == 0, old.output
    truth = [json.loads((tmp_path / p / "truth.json").read_text()) for p in "ab"]
    assert truth[0] == truth[1]
    assert truth[0]["seed"] == 3


def test_both_spellings_with_different_values_are_refused(tmp_path: Path) -> None:
    argv = ["synth", "--out", str(tmp_path / "a"), "--random-seed", "3", "--seed", "4"]
    result = _run(argv)
    assert result.exit_code == 2
    assert "give --random-seed only" in result.output
    assert not (tmp_path / "a").exists()


def test_demo_positional_out_and_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(demo_cmd, "_run_demo", lambda *args: calls.append(args) or {})
    new = _run(["demo", "--out", str(tmp_path), "--random-seed", "3", "--slices", "20"])
    assert new.exit_code == 0, new.output
    with pytest.warns(DeprecatedSpellingWarning, match="OUT as a positional"):
        old = _old(
            ["demo", str(tmp_path), "--seed", "3", "--slices", "20"], "--seed", "--random-seed"
        )
    assert old.exit_code == 0, old.output
    assert calls[0] == calls[1] == (tmp_path, 3, 3, 20, False)


def test_keygen_positional_keyfile(tmp_path: Path) -> None:
    assert _run(["deid-keygen", "--out", str(tmp_path / "a.key")]).exit_code == 0
    old = _old(["deid-keygen", str(tmp_path / "b.key")], "KEYFILE as a positional", "--out")
    assert old.exit_code == 0, old.output
    for name in ("a.key", "b.key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    lines = [(tmp_path / n).read_text().splitlines() for n in ("a.key", "b.key")]
    assert lines[0][0] == lines[1][0]  # the same header, different secrets
    assert lines[0][1] != lines[1][1]


def test_deid_positional_out(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    generate_keyfile(key)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "a", "name": [{"family": "Zed"}]}}
        ],
    }
    source = tmp_path / "b.json"
    source.write_text(json.dumps(bundle))
    new = _run(["deid", str(source), "--out", str(tmp_path / "n.json"), "--key", str(key)])
    assert new.exit_code == 0, new.output
    argv = ["deid", str(source), str(tmp_path / "o.json"), "--key", str(key)]
    old = _old(argv, "OUT as a positional", "--out")
    assert old.exit_code == 0, old.output
    assert (tmp_path / "n.json").read_bytes() == (tmp_path / "o.json").read_bytes()


@pytest.mark.parametrize("command", ["deid", "analyze"])
def test_batch_positional_out(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Path] = []

    def prepare(out: Path, *args: object) -> Path:
        seen.append(out)
        raise ExportError("stopped here by the test", path=out)

    monkeypatch.setattr(batch_cmd, "_prepare", prepare)
    (tmp_path / "archive" / "p1").mkdir(parents=True)
    (tmp_path / "archive" / "p1" / "a.txt").write_text("x")
    key = tmp_path / "k.key"
    generate_keyfile(key)
    extra = ["--key", str(key)] if command == "deid" else []
    base = ["batch", command, str(tmp_path / "archive")]
    new = _run([*base, "--out", str(tmp_path / "out"), *extra])
    old = _old([*base, str(tmp_path / "out"), *extra], "OUT as a positional", "--out")
    assert new.exit_code == old.exit_code == 2
    assert seen == [tmp_path / "out", tmp_path / "out"]


def test_every_old_spelling_has_a_case_here() -> None:
    tested = {
        "segment": ["--seed"],
        "synth": ["--seed", "OUT"],
        "demo": ["--seed", "OUT"],
        "deid": ["OUT"],
        "deid-keygen": ["KEYFILE"],
        "batch deid": ["OUT"],
        "batch analyze": ["OUT"],
    }
    assert tested == DEPRECATED
