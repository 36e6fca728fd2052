"""Hostile inputs and hostile folders: de-identification never writes outside OUT,
never touches an input, never loses a run's records.

Every test snapshots the whole temporary tree (every file outside OUT with its
SHA-256) before and after: equal snapshots mean zero inputs modified and zero
files written outside OUT.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import config
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.errors import DataFormatError, OutputLockedError, UnsafeOutputError
from radcycle.io.folder_lock import LOCK_NAME, FolderLock
from radcycle.privacy.batch import deidentify_file, deidentify_tree, valid_uid
from radcycle.privacy.keys import DeidKey, generate_keyfile, load_keyfile
from radcycle.privacy.manifest import MANIFEST_NAME, SUMMARY_NAME, read_manifest
from radcycle.privacy.profile import DeidOptions
from radcycle.privacy.run_marker import MARKER_NAME, unfinished_deid_run

from .conftest import ALICE, BOB, ct_slice, write_patient

RETAIN = DeidOptions(retain_uids=True)
runner = CliRunner()


def snapshot(root: Path, out: Path) -> dict[str, str]:
    """Every file and link below ``root`` but outside ``out``, with its content hash."""
    found = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here / d != out]
        for name in files + [d for d in dirs if (here / d).is_symlink()]:
            path = here / name
            if path.is_symlink():
                found[str(path)] = "link to " + os.readlink(path)
            else:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


class Guard:
    """Snapshot of the tree outside OUT; ``check()`` asserts it did not change."""

    def __init__(self, root: Path, out: Path) -> None:
        self.root, self.out = root, out
        self.before = snapshot(root, out)

    def check(self) -> None:
        after = snapshot(self.root, self.out)
        assert after == self.before, {
            "new or changed": sorted(k for k in after if after[k] != self.before.get(k)),
            "removed": sorted(set(self.before) - set(after)),
        }


@contextlib.contextmanager
def _invalid_values_allowed() -> Iterator[None]:
    with warnings.catch_warnings():  # hostile values are invalid on purpose
        warnings.simplefilter("ignore")
        previous = config.settings.writing_validation_mode
        config.settings.writing_validation_mode = config.IGNORE
        try:
            yield
        finally:
            config.settings.writing_validation_mode = previous


def _hostile(
    folder: Path,
    name: str,
    *,
    sop: str | None = None,
    study: str | None = None,
    series: str | None = None,
) -> Path:
    ds = ct_slice(ALICE, len(list(folder.glob("*.dcm"))))
    folder.mkdir(parents=True, exist_ok=True)
    with _invalid_values_allowed():
        if sop is not None:
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
        if study is not None:
            ds.StudyInstanceUID = study
        if series is not None:
            ds.SeriesInstanceUID = series
        ds.save_as(folder / name, enforce_file_format=True)
    return folder / name


def test_uid_validation() -> None:
    assert valid_uid("1.2.840.10008.5.1.4.1.1.2")
    for bad in ("", "../x", "/etc/passwd", "1..2", "1.2.", "1.2a", "1" * 65, "1.2/3"):
        assert not valid_uid(bad), bad


def test_uids_that_are_paths_fail_the_file(tmp_path: Path, key: DeidKey) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    victim = _hostile(src, "victim.dcm")
    # The old behaviour: an absolute StudyInstanceUID naming the input folder, with
    # the victim's own name as SOPInstanceUID, overwrote the victim.
    _hostile(src, "abs.dcm", sop="victim", study=str(src), series=".")
    _hostile(src, "abs-study.dcm", study="/tmp/radcycle-escaped")
    _hostile(src, "dots.dcm", sop="../../../escaped")
    _hostile(src, "long.dcm", sop="1." + "2" * 70)
    guard = Guard(tmp_path, out)
    summary = deidentify_tree(src, out, key, RETAIN, workers=1)
    guard.check()
    by_source = {r.source: r for r in summary.records}
    assert by_source["victim.dcm"].status == "written"
    for name, keyword in (
        ("abs.dcm", "SOPInstanceUID"),
        ("abs-study.dcm", "StudyInstanceUID"),
        ("dots.dcm", "SOPInstanceUID"),
        ("long.dcm", "SOPInstanceUID"),
    ):
        assert by_source[name].status == "failed"
        assert by_source[name].reason.startswith(f"{keyword} is not a valid UID")
    assert victim.read_bytes()[128:132] == b"DICM"
    assert not list(out.rglob("*.part"))
    runs = json.loads((out / SUMMARY_NAME).read_text())["runs"]
    assert runs[-1]["failed"] == {
        "StudyInstanceUID is not a valid UID (digits and dots, at most 64 characters); "
        "it cannot name an output file": 1,
        "SOPInstanceUID is not a valid UID (digits and dots, at most 64 characters); "
        "it cannot name an output file": 3,
    }


def test_symlink_inside_out_leading_outside_is_refused(tmp_path: Path, key: DeidKey) -> None:
    src, out, elsewhere = tmp_path / "in", tmp_path / "out", tmp_path / "elsewhere"
    _hostile(src, "a.dcm")
    elsewhere.mkdir()
    out.mkdir()
    (out / key.patient_id(ALICE.patient_id)).symlink_to(elsewhere)
    guard = Guard(tmp_path, out)
    summary = deidentify_tree(src, out, key, DeidOptions(), workers=1)
    guard.check()
    (record,) = summary.records
    assert record.status == "failed"
    assert "outside the output folder" in record.reason
    assert not any(elsewhere.iterdir())


@pytest.mark.parametrize("where", ["same", "inside", "file"])
def test_out_equal_to_or_inside_the_input_or_a_file_is_refused(
    planted: Path, tmp_path: Path, key: DeidKey, where: str
) -> None:
    out = {"same": planted, "inside": planted / "deid", "file": planted / "notes.txt"}[where]
    guard = Guard(tmp_path, tmp_path / "nothing")
    with pytest.raises(UnsafeOutputError):
        deidentify_tree(planted, out, key, DeidOptions(), workers=1)
    guard.check()


def test_cli_refusals_are_errors_not_tracebacks(planted: Path, tmp_path: Path) -> None:
    keyfile = tmp_path / "k.key"
    generate_keyfile(keyfile)
    guard = Guard(tmp_path, tmp_path / "nothing")
    for out in (planted, planted / "deid", planted / "notes.txt"):
        result = runner.invoke(
            build_app(), ["deid", str(planted), "--out", str(out), "--key", str(keyfile)]
        )
        assert result.exit_code == 2, result.output
        assert "error:" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    guard.check()


def _relinkable(out: Path, key: DeidKey) -> set[str]:
    """Every output file that a manifest record leads to."""
    return {r.output for r in read_manifest(out, key) if r.output and (out / r.output).is_file()}


def test_two_runs_into_one_folder_keep_every_record(tmp_path: Path, key: DeidKey) -> None:
    first, second, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    write_patient(first, ALICE, {1: "20230314"})
    write_patient(second, BOB, {1: "20220101"})
    guard = Guard(tmp_path, out)
    deidentify_tree(first, out, key, DeidOptions(), workers=1)
    deidentify_tree(second, out, key, DeidOptions(), workers=1)
    guard.check()
    outputs = {str(p.relative_to(out)) for p in out.rglob("*.dcm")}
    assert len(outputs) == 10
    assert _relinkable(out, key) == outputs
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert [run["counts"]["written"] for run in summary["runs"]] == [5, 5]
    assert {o["output"] for o in summary["outputs"]} == outputs
    assert not (out / MARKER_NAME).exists()
    assert not (out / LOCK_NAME).exists()


def test_rerun_is_identical_and_a_changed_rerun_needs_force(
    planted: Path, tmp_path: Path, key: DeidKey
) -> None:
    out = tmp_path / "out"
    guard = Guard(tmp_path, out)
    deidentify_tree(planted, out, key, DeidOptions(), workers=1)
    before = {p: p.read_bytes() for p in out.rglob("*.dcm")}
    again = deidentify_tree(planted, out, key, DeidOptions(), workers=1)
    assert again.count("written") == 13
    assert {p: p.read_bytes() for p in out.rglob("*.dcm")} == before
    changed = deidentify_tree(planted, out, key, DeidOptions(dates="full"), workers=1)
    assert changed.count("written") == 0
    assert list(changed.reasons()) == [
        "an earlier run wrote a different file of this instance (--force)"
    ]
    assert {p: p.read_bytes() for p in out.rglob("*.dcm")} == before
    forced = deidentify_tree(planted, out, key, DeidOptions(dates="full"), workers=1, force=True)
    assert forced.count("written") == 13
    assert {p: p.read_bytes() for p in out.rglob("*.dcm")} != before
    guard.check()
    assert not list(out.rglob("*.part"))


def test_a_folder_of_another_key_is_refused(
    planted: Path, tmp_path: Path, key: DeidKey, other_key: DeidKey
) -> None:
    out = tmp_path / "out"
    deidentify_tree(planted, out, key, DeidOptions(), workers=1)
    manifest = (out / MANIFEST_NAME).read_bytes()
    with pytest.raises(DataFormatError, match="does not open with this key"):
        deidentify_tree(planted, out, other_key, DeidOptions(), workers=1)
    assert (out / MANIFEST_NAME).read_bytes() == manifest


def test_a_locked_folder_is_refused_and_a_stale_lock_taken_over(
    planted: Path, tmp_path: Path, key: DeidKey
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with FolderLock(out, "deid"), pytest.raises(OutputLockedError, match=f"pid {os.getpid()}"):
        deidentify_tree(planted, out, key, DeidOptions(), workers=1)
    assert sorted(p.name for p in out.iterdir()) == []
    # a lock file left by a process that is gone (no flock held, its pid dead)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    (out / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "purpose": "deid"}))
    assert deidentify_tree(planted, out, key, DeidOptions(), workers=1).count("written") == 13
    assert not (out / LOCK_NAME).exists()


def test_concurrent_runs_never_mix(planted: Path, tmp_path: Path) -> None:
    keyfile = tmp_path / "k.key"
    generate_keyfile(keyfile)
    out = tmp_path / "out"
    guard = Guard(tmp_path, out)
    command = [sys.executable, "-m", "radcycle.cli.main", "deid", str(planted), "--out", str(out)]
    runs = [
        subprocess.Popen(
            [*command, "--key", str(keyfile), "--workers", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    texts = [run.communicate(timeout=120)[0] for run in runs]
    results = [(run.returncode, text) for run, text in zip(runs, texts, strict=True)]
    guard.check()
    codes = sorted(code for code, _ in results)
    # a finished run exits 0, a refused one 2 (a run after the first finds its outputs)
    assert codes in ([0, 0], [0, 2]), results
    if codes == [0, 2]:
        assert "another radcycle run" in " ".join(text for _, text in results)
    assert not list(out.rglob("*.part"))
    assert not (out / MARKER_NAME).exists()
    key = load_keyfile(keyfile)
    assert _relinkable(out, key) == {str(p.relative_to(out)) for p in out.rglob("*.dcm")}


def test_a_killed_run_is_marked_then_completed_identically(
    planted: Path, tmp_path: Path, key: DeidKey
) -> None:
    clean, out = tmp_path / "clean", tmp_path / "out"
    deidentify_tree(planted, clean, key, DeidOptions(), workers=1)
    # A run killed half-way: its marker, some staged .part files, no summary.
    out.mkdir()
    (out / MARKER_NAME).write_text(json.dumps({"pid": 999999, "started": "2026-01-01"}))
    files = sorted(p for p in planted.rglob("*.dcm"))[:5]
    for path in files:
        assert deidentify_file(path, planted, out, key, DeidOptions()).staged
    (out / "RC0000" / "stray.part").parent.mkdir()
    (out / "RC0000" / "stray.part").write_bytes(b"half a file")
    assert list(out.rglob("*.part"))
    assert unfinished_deid_run(out) == {
        "marker": str(out / MARKER_NAME),
        "pid": 999999,
        "started": "2026-01-01",
    }
    inspected = runner.invoke(build_app(), ["inspect", str(out)])
    assert "unfinished de-identification run" in " ".join(inspected.output.split())
    as_json = runner.invoke(build_app(), ["inspect", str(out), "--json"])
    assert json.loads(as_json.output)["unfinished_deid_run"]["pid"] == 999999

    deidentify_tree(planted, out, key, DeidOptions(), workers=1)
    assert unfinished_deid_run(out) is None
    assert not list(out.rglob("*.part"))
    produced = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.dcm")}
    expected = {p.relative_to(clean): p.read_bytes() for p in clean.rglob("*.dcm")}
    assert produced == expected
    assert (out / SUMMARY_NAME).is_file()


def test_truncated_pixel_data_fails_with_the_reason(tmp_path: Path, key: DeidKey) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    whole = _hostile(src, "whole.dcm")
    data = whole.read_bytes()
    (src / "cut.dcm").write_bytes(data[:-100])
    (src / "cut-odd.dcm").write_bytes(data[:-101])
    keyfile = tmp_path / "k.key"
    key = generate_keyfile(keyfile)
    guard = Guard(tmp_path, out)
    result = runner.invoke(
        build_app(), ["deid", str(src), "--out", str(out), "--key", str(keyfile)]
    )
    guard.check()
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "1 written" in text
    assert "2 failed" in text
    assert "failed 1 file(s): pixel data cut short (412 of 512 bytes)" in text
    records = {r.source: r for r in read_manifest(out, key)}
    assert records["cut.dcm"].status == "failed"
    assert records["cut.dcm"].reason == "pixel data cut short (412 of 512 bytes)"
    assert len(list(out.rglob("*.dcm"))) == 1


def test_a_file_name_that_is_not_utf8_is_processed(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _hostile(src, "plain.dcm")
    odd = Path(os.fsdecode(bytes(src) + b"/caf\xe9.dcm"))
    odd.write_bytes((src / "plain.dcm").read_bytes())
    keyfile = tmp_path / "k.key"
    key = generate_keyfile(keyfile)
    result = runner.invoke(
        build_app(), ["deid", str(src), "--out", str(out), "--key", str(keyfile)]
    )
    assert result.exit_code == 0, result.output
    assert "2 written" in result.output
    records = {r.source: r for r in read_manifest(out, key)}
    assert records[os.fsdecode(b"caf\xe9.dcm")].status == "written"


def test_fhir_output_rules(tmp_path: Path) -> None:
    keyfile = tmp_path / "k.key"
    generate_keyfile(keyfile)
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    folder = tmp_path / "folder"
    folder.mkdir()
    (tmp_path / "taken.json").write_text("earlier")
    guard = Guard(tmp_path, tmp_path / "nothing")
    for out in (bundle, tmp_path / "taken.json"):
        result = runner.invoke(
            build_app(), ["deid", str(bundle), "--out", str(out), "--key", str(keyfile)]
        )
        assert result.exit_code == 2, result.output
        assert "error:" in result.output
    guard.check()
    # Into a folder the output is named from the pseudonym; a second run finds it taken.
    into_folder = ["deid", str(bundle), "--out", str(folder), "--key", str(keyfile)]
    assert runner.invoke(build_app(), into_folder).exit_code == 0
    (written,) = folder.iterdir()
    assert written.name != "b.json"
    written.write_text("earlier")
    refused = runner.invoke(build_app(), into_folder)
    assert refused.exit_code == 2, refused.output
    assert written.read_text() == "earlier"
    assert runner.invoke(build_app(), [*into_folder, "--force"]).exit_code == 0
    assert json.loads(written.read_text())["resourceType"] == "Bundle"
    again = ["deid", str(bundle), "--out", str(bundle), "--key", str(keyfile), "--force"]
    assert runner.invoke(build_app(), again).exit_code == 2  # an input, even with --force
