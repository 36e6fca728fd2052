"""Every command that writes: never onto an input, never over an output without --force."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.domain import Geometry, Volume
from radcycle.io import write_image

runner = CliRunner()


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(build_app(), list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def image(tmp_path: Path) -> Path:
    volume = Volume(np.full((6, 8, 8), -1000, np.int16), Geometry((0, 0, 0), (1, 1, 1)))
    return write_image(volume, tmp_path / "ct.nii.gz")


def test_segment_never_replaces_the_image_nor_an_output(image: Path, tmp_path: Path) -> None:
    (tmp_path / "mask.nii.gz").write_bytes(b"an earlier mask")
    before = _digest(tmp_path)
    for out in (image, tmp_path / "mask.nii.gz", tmp_path / "x" / ".." / "ct.nii.gz"):
        code, text = _run("segment", str(image), "--point", "1,1,1", "--out", str(out))
        assert code == 2
        assert "error:" in text
    code, text = _run("segment", str(image), "--point", "1,1,1", "--out", str(image), "--force")
    assert code == 2
    assert "onto an input" in text
    code, text = _run("segment", str(image), "--point", "1,1,1", "--out", str(tmp_path / "m.nhdr"))
    assert code == 2
    assert "--out must end in" in text
    assert _digest(tmp_path) == before


def test_follow_out_is_checked_before_the_work(tmp_path: Path) -> None:
    studies = [tmp_path / "tp0", tmp_path / "tp1"]
    for study in studies:
        study.mkdir()
        (study / "1.dcm").write_bytes(b"not read: refused before")
    (tmp_path / "file").write_text("a file")
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "follow.json").write_text("{}")
    before = _digest(tmp_path)
    for out in (tmp_path / "file", earlier, studies[0], studies[1] / "out"):
        code, text = _run("follow", *map(str, studies), "--out", str(out))
        assert code == 2, text
        assert "error: UnsafeOutputError" in text
    assert _digest(tmp_path) == before
    assert not (studies[1] / "out").exists()


def test_synth_needs_force_to_replace_an_earlier_patient(tmp_path: Path) -> None:
    out = tmp_path / "p"
    args = ("synth", "--out", str(out), "--timepoints", "1", "--slices", "16", "--matrix", "64")
    assert _run(*args)[0] == 0
    before = _digest(out)
    code, text = _run(*args, "--random-seed", "3")
    assert code == 2
    assert "--force" in text
    assert _digest(out) == before
    assert _run(*args, "--random-seed", "3", "--force")[0] == 0
    assert _digest(out) != before
    assert not [p for p in out.rglob(".radcycle-tmp-*")]
    code, _ = _run("synth", "--out", str(out / "truth.json"))
    assert code == 2


def test_keygen_writes_mode_0600_and_never_replaces(tmp_path: Path) -> None:
    key = tmp_path / "site.key"
    assert _run("deid-keygen", "--out", str(key))[0] == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = key.read_bytes()
    code, text = _run("deid-keygen", "--out", str(key))
    assert code == 2
    assert "refusing to overwrite" in text
    assert key.read_bytes() == first
    key.chmod(0o644)
    data = tmp_path / "in"
    data.mkdir()
    code, text = _run("deid", str(data), "--out", str(tmp_path / "out"), "--key", str(key))
    assert code == 2
    assert "group or others" in text
    code, text = _run(
        "deid", str(data), "--out", str(tmp_path / "out"), "--key", str(key), "--allow-readable-key"
    )
    assert code == 0, text
