"""``radcycle pacs ...`` and ``radcycle listen`` against a real Orthanc."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pydicom
import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.pacs.orthanc import LocalOrthanc
from radcycle.synth import generate_patient, write_patient
from tests.pacs.conftest import LISTENER_AET, LISTENER_PORT, MOVE_PORT, OUR_AET, make_study

pytestmark = pytest.mark.service
runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(build_app(list(args)), list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.fixture
def web(orthanc: LocalOrthanc, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    user, password = orthanc.auth
    monkeypatch.setenv("RADCYCLE_PACS_PASSWORD", password)
    return ["--pacs", orthanc.dicomweb_url, "--user", user]


def test_echo_over_both_protocols(orthanc: LocalOrthanc, web: list[str]) -> None:
    code, out = _run("pacs", "echo", *web, "--json")
    assert code == 0, out
    assert json.loads(out)["ok"] is True
    code, out = _run("pacs", "echo", "--pacs", orthanc.dicom_url, "--calling-aet", OUR_AET)
    assert code == 0, out
    assert "answers" in out


def test_store_a_mixed_folder_find_it_and_retrieve_it(
    orthanc: LocalOrthanc, web: list[str], tmp_path: Path
) -> None:
    files = make_study(tmp_path / "in", slices=3, seed=11)
    (tmp_path / "in" / "readme.txt").write_text("not DICOM")
    code, out = _run("pacs", "store", str(tmp_path / "in"), *web, "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["sent"] == 3
    assert summary["verified"]["ok"] is True
    assert [s["file"].endswith("readme.txt") for s in summary["skipped"]] == [True]
    code, out = _run("pacs", "find", *web, "--patient-id", "PACS-11", "--json")
    assert code == 0, out
    (study,) = json.loads(out)["studies"]
    assert study["instances"] == 3
    uid = study["study_instance_uid"]
    assert uid == str(pydicom.dcmread(files[0]).StudyInstanceUID)
    dest = tmp_path / "fetched"
    code, out = _run("pacs", "retrieve", uid, *web, "--out", str(dest), "--json")
    assert code == 0, out
    assert len(list(dest.glob("*.dcm"))) == 3
    code, out = _run("pacs", "retrieve", uid, *web, "--out", str(dest))
    assert code == 2
    assert "--force" in out
    dimse = ["--pacs", orthanc.dicom_url, "--calling-aet", OUR_AET]
    move = [*dimse, "--method", "move", "--move-port", str(MOVE_PORT)]
    code, out = _run("pacs", "retrieve", uid, *move, "--out", str(dest), "--force", "--json")
    assert code == 0, out
    assert json.loads(out)["instances"] == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fetched.")]


def test_pacs_errors_are_one_line_and_exit_2(
    orthanc: LocalOrthanc, web: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _run("pacs", "find", "--pacs", "ftp://x")
    assert code == 2
    assert "error:" in out
    monkeypatch.setenv("RADCYCLE_PACS_PASSWORD", "wrong")
    code, out = _run("pacs", "find", *web)
    assert code == 2
    assert "HTTP 401" in out
    code, out = _run("pacs", "echo", "--pacs", "dicom://NOBODY@127.0.0.1:9", "--timeout", "2")
    assert code == 2
    assert "NOBODY@127.0.0.1:9" in out
    code, out = _run("pacs", "store", str(tmp_path / "missing.dcm"), *web)
    assert code == 2
    assert "missing.dcm" in out


def _orthanc_send(orthanc: LocalOrthanc, study_uid: str) -> None:
    with httpx.Client(auth=orthanc.auth, timeout=60) as client:
        found = client.post(f"{orthanc.rest_url}/tools/lookup", content=study_uid).json()
        ident = next(f["ID"] for f in found if f["Type"] == "Study")
        sent = client.post(f"{orthanc.rest_url}/modalities/{LISTENER_AET}/store", content=ident)
        assert sent.status_code == 200, sent.text


def _listen(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "radcycle.cli.main", "listen", str(tmp_path / "incoming")]
    argv += ["--port", str(LISTENER_PORT), "--aet", LISTENER_AET, "--quiet-seconds", "1"]
    process = subprocess.Popen(
        [*argv, "--max-studies", "1", "--json", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = json.loads(process.stdout.readline())  # it listens before saying so
    assert first["event"] == "listening"
    return process


def _events(process: subprocess.Popen[str], timeout: float) -> list[dict[str, object]]:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    return [json.loads(line) for line in stdout.splitlines()]


def test_listen_queues_the_complete_study(
    orthanc: LocalOrthanc, web: list[str], tmp_path: Path
) -> None:
    files = make_study(tmp_path / "study", slices=4, seed=12)
    assert _run("pacs", "store", str(tmp_path / "study"), *web)[0] == 0
    process = _listen(tmp_path, "--queue", str(tmp_path / "queue"))
    _orthanc_send(orthanc, str(pydicom.dcmread(files[0]).StudyInstanceUID))
    events = _events(process, timeout=60)
    assert [e["event"] for e in events] == ["study_complete", "stopped"]
    assert events[0]["instances"] == 4
    (queued,) = (tmp_path / "queue").glob("*.json")
    assert json.loads(queued.read_text())["folder"] == events[0]["folder"]


@pytest.mark.slow
def test_listen_analyze_writes_the_report_of_the_study(
    orthanc: LocalOrthanc, web: list[str], tmp_path: Path
) -> None:
    patient = write_patient(generate_patient(5, timepoints=1, slices=24, matrix=96), tmp_path / "p")
    (study_folder,) = [p for p in patient.iterdir() if p.is_dir()]
    assert _run("pacs", "store", str(study_folder), *web)[0] == 0
    out = tmp_path / "results"
    process = _listen(tmp_path, "--analyze", "--out", str(out))
    study = str(pydicom.dcmread(next(study_folder.glob("*.dcm"))).StudyInstanceUID)
    start = time.monotonic()
    _orthanc_send(orthanc, study)
    events = _events(process, timeout=300)
    assert [e["event"] for e in events] == ["study_complete", "analyzed", "stopped"], events
    report = json.loads((out / study / "report.json").read_text())
    assert report["status"] == "draft - not for diagnostic use until signed"
    assert time.monotonic() - start < 300


def test_listen_refuses_analyze_without_out(tmp_path: Path) -> None:
    code, out = _run("listen", str(tmp_path / "in"), "--analyze")
    assert code == 2
    assert "--out" in out
