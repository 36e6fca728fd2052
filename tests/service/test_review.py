"""A case from job to signature through the API, on SQLite and PostgreSQL.

A real analysis of a small synthetic patient runs in the service's worker; the
test then reviews it as a radiologist would: slices and evidence, reject a
finding (response and draft recomputed), edit (verifier), a second editor's
conflict, sign (final SR, SEG, FHIR), amend, feedback export, audit chain.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from fhir.resources.R4B.bundle import Bundle

from radcycle.reporting.export.codes import DRAFT_NOTICE
from radcycle.service.settings import ServiceSettings
from tests.service.conftest import Running, add_users, fresh_postgres, login

pytestmark = [pytest.mark.slow, pytest.mark.service]


def wait_job(client: httpx.Client, headers: dict[str, str], job: int, limit: float = 600) -> dict:
    deadline = time.monotonic() + limit
    seen = set()
    while time.monotonic() < deadline:
        state = client.get(f"/api/jobs/{job}", headers=headers).json()
        seen.add(state["stage"])
        if state["status"] in {"done", "failed"}:
            state["seen_stages"] = sorted(seen)
            return dict(state)
        time.sleep(0.3)
    raise AssertionError(f"job {job} did not finish")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, patient_dir: Path
) -> Iterator[tuple[Running, dict[str, Any]]]:
    root = tmp_path_factory.mktemp(f"review-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'svc.db'}"
    else:
        url = fresh_postgres(request.getfixturevalue("postgres_url"), "review")
    add_users(url)
    running = Running(ServiceSettings(data=root / "data", database_url=url))
    client = running.client
    tech = login(client, "technologist")
    capture = _LogCapture()
    logging.getLogger().addHandler(capture)
    try:
        body = {"folder": str(patient_dir), "fhir": str(patient_dir / "fhir_bundle.json")}
        first = client.post("/api/jobs", json=body, headers=tech)
        assert first.status_code == 202, first.text
        again = client.post("/api/jobs", json=body, headers=tech).json()
        job = wait_job(client, tech, first.json()["job"])
    finally:
        logging.getLogger().removeHandler(capture)
    info = {"first": first.json(), "again": again, "job": job, "logs": capture.lines}
    yield running, info
    running.stop()


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_job_runs_once_per_set_of_studies(service: tuple[Running, dict[str, Any]]) -> None:
    running, info = service
    assert info["first"]["created"] is True
    assert info["again"] == {"job": info["first"]["job"], "created": False, "status": "queued"} or (
        info["again"]["job"] == info["first"]["job"] and info["again"]["created"] is False
    )
    job = info["job"]
    assert job["status"] == "done", job
    assert job["progress"] == 100
    assert {"follow", "done"} <= set(job["seen_stages"])
    cases = running.client.get("/api/cases", headers=login(running.client, "viewer")).json()
    assert [c["id"] for c in cases] == [job["case"]]


def test_no_patient_data_in_the_logs(
    service: tuple[Running, dict[str, Any]], patient_dir: Path
) -> None:
    running, info = service
    case = running.client.get(
        f"/api/cases/{info['job']['case']}", headers=login(running.client, "viewer")
    ).json()
    secrets = [s["uid"] for s in case["studies"]] + [str(patient_dir)]
    patient = running.client.get("/api/cases", headers=login(running.client, "viewer")).json()
    secrets.append(patient[0]["patient"])
    for line in info["logs"]:
        for secret in secrets:
            assert secret not in line, line


def _case(running: Running, headers: dict[str, str]) -> dict[str, Any]:
    case_id = running.client.get("/api/cases", headers=headers).json()[0]["id"]
    return dict(running.client.get(f"/api/cases/{case_id}", headers=headers).json())


def test_slices_windows_and_evidence(service: tuple[Running, dict[str, Any]]) -> None:
    running, _ = service
    client, viewer = running.client, login(running.client, "viewer")
    case = _case(running, viewer)
    layout = client.get(f"/api/cases/{case['id']}/layout", headers=viewer).json()
    assert len(layout["timepoints"]) == 2
    uid, where = next(iter(layout["lesions"].items()))
    t, k = next(iter(where.items()))
    images = {
        w: client.get(f"/api/cases/{case['id']}/slices/{t}/{k}.png?window={w}", headers=viewer)
        for w in ("lung", "mediastinum", "bone")
    }
    for reply in images.values():
        assert reply.status_code == 200
        assert reply.content.startswith(b"\x89PNG")
    assert len({r.content for r in images.values()}) == 3
    bad = client.get(f"/api/cases/{case['id']}/slices/{t}/{k}.png?window=x", headers=viewer)
    assert bad.status_code == 422
    assert client.get(f"/api/cases/{case['id']}/slices/9/0.png", headers=viewer).status_code == 422
    evidence = client.get(f"/api/cases/{case['id']}/evidence/{uid}/{t}.png", headers=viewer)
    assert evidence.status_code == 200
    assert evidence.content.startswith(b"\x89PNG")


def _response_facts(document: dict[str, Any]) -> dict[str, Any]:
    return {
        f["id"]: f["value"]
        for f in document["facts"]
        if f["kind"] == "response" or f["name"].startswith("sum")
    }


def test_review_edit_conflict_sign_amend_feedback(
    service: tuple[Running, dict[str, Any]], tmp_path: Path
) -> None:
    running, _ = service
    client = running.client
    ana, bo = login(client, "radiologist"), login(client, "radiologist2")
    case = _case(running, ana)
    cid, version = case["id"], case["version"]
    before_text = case["report"]["text"]
    before_response = _response_facts(case["report"]["document"])
    lesion = case["lesions"][0]
    # reject a finding: a new version, the response and the draft without it
    reply = client.post(
        f"/api/cases/{cid}/lesions/{lesion['tracking_uid']}",
        json={"decision": "rejected", "version": version},
        headers=ana,
    )
    assert reply.status_code == 200, reply.text
    after = client.get(f"/api/cases/{cid}", headers=ana).json()
    assert after["version"] == version + 1
    assert after["report"]["text"] != before_text
    assert lesion["tracking_identifier"].lower() not in after["report"]["text"].lower()
    assert _response_facts(after["report"]["document"]) != before_response
    assert all(
        f.get("tracking_uid") != lesion["tracking_uid"]
        for f in after["report"]["document"]["facts"]
    )
    # a decision on a version that moved on is a conflict
    stale = client.post(
        f"/api/cases/{cid}/lesions/{lesion['tracking_uid']}",
        json={"decision": "confirmed", "version": version},
        headers=bo,
    )
    assert stale.status_code == 409
    # edit: the verifier checks each sentence
    text = after["report"]["text"] + "\nLesion 1 measures 99.0 mm.\n<script>alert(1)</script>\n"
    text += "x'); DROP TABLE cases; --\n"
    edited = client.put(
        f"/api/cases/{cid}/report", json={"text": text, "version": after["version"]}, headers=ana
    )
    assert edited.status_code == 200, edited.text
    verdicts = edited.json()["verdicts"]
    assert any(not v["supported"] and "99" in v["text"] for v in verdicts)
    v_edit = edited.json()["version"]
    # two editors on the same version: the second is told, nothing is lost
    first = client.put(
        f"/api/cases/{cid}/report", json={"text": text + "Addendum one.\n", "version": v_edit},
        headers=ana,
    )  # fmt: skip
    second = client.put(
        f"/api/cases/{cid}/report", json={"text": text + "Addendum two.\n", "version": v_edit},
        headers=bo,
    )  # fmt: skip
    assert first.status_code == 200
    assert second.status_code == 409
    assert "changed by someone else" in second.json()["detail"]
    current = client.get(f"/api/cases/{cid}", headers=ana).json()
    assert "Addendum one." in current["report"]["text"]
    # the UI escapes what the report says
    page = client.get(f"/cases/{cid}", headers=ana)
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    # sign: stale version refused, then the current one
    assert (
        client.post(f"/api/cases/{cid}/sign", json={"version": v_edit}, headers=ana).status_code
        == 409
    )
    signed = client.post(
        f"/api/cases/{cid}/sign", json={"version": current["version"]}, headers=ana
    )
    assert signed.status_code == 200, signed.text
    folder = (
        Path(running.settings.cases)
        / f"job-{_job_of(running, cid)}"
        / (f"signed-v{signed.json()['version']}")
    )
    _check_signed(folder, "Addendum one.")
    # a signed report is frozen
    frozen = client.put(
        f"/api/cases/{cid}/report", json={"text": "x", "version": signed.json()["version"]},
        headers=ana,
    )  # fmt: skip
    assert frozen.status_code == 409
    # amend, then sign again: an amended version, the signed one kept
    reopened = client.post(
        f"/api/cases/{cid}/amend", json={"version": signed.json()["version"]}, headers=ana
    )
    assert reopened.status_code == 200
    amended_text = text + "Amendment: clinical history corrected.\n"
    body = {"text": amended_text, "version": reopened.json()["version"]}
    v = client.put(f"/api/cases/{cid}/report", json=body, headers=ana).json()["version"]
    final = client.post(f"/api/cases/{cid}/sign", json={"version": v}, headers=ana)
    assert final.status_code == 200
    versions = client.get(f"/api/cases/{cid}/versions", headers=ana).json()
    statuses = [x["status"] for x in versions]
    assert statuses[0] == "draft"
    assert "signed" in statuses
    assert statuses[-1] == "amended"
    assert (folder.parent / f"signed-v{signed.json()['version']}").is_dir()
    # feedback: the diff between the AI draft and the signed text, and the decisions
    feedback = client.get("/api/feedback.json", headers=ana).json()
    row = next(r for r in feedback if r["case"] == cid)
    assert any(line.startswith("+") and "Amendment" in line for line in row["diff"])
    assert row["decisions"][0]["decision"] == "rejected"
    assert row["decisions"][0]["by"] == "radiologist"
    csv_text = client.get("/api/feedback.csv", headers=ana).text
    assert "decision" in csv_text
    assert "Amendment: clinical history corrected." in csv_text
    # the audit chain holds and names every step
    audit = client.get("/api/audit/verify", headers=login(client, "admin")).json()
    assert audit["ok"], audit


def _job_of(running: Running, case_id: int) -> int:
    from radcycle.store.db import Store
    from radcycle.store.models import Case

    store = Store.open(running.settings.database_url)
    try:
        with store.session() as session:
            case = session.get(Case, case_id)
            assert case is not None
            return case.job_id
    finally:
        store.close()


def _check_signed(folder: Path, text: str) -> None:
    names = {p.name for p in folder.iterdir()}
    assert {"report.txt", "report.json", "fhir.json", "report.pdf"} <= names, names
    assert any(n.startswith("sr_") for n in names)
    assert any(n.startswith("seg_") for n in names)
    for sr in folder.glob("sr_*.dcm"):
        ds = pydicom.dcmread(sr)
        assert ds.VerificationFlag == "VERIFIED"
        assert ds.CompletionFlag == "COMPLETE"
        assert ds.VerifyingObserverSequence[0].VerifyingObserverName == "radiologist"
    bundle = json.loads((folder / "fhir.json").read_text())
    report = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DiagnosticReport"
    ]
    assert report[0]["status"] == "final"
    assert report[0]["conclusion"].startswith("final - signed by radiologist")
    assert "draft" not in json.dumps(bundle).lower()
    Bundle.model_validate(bundle)
    document = json.loads((folder / "report.json").read_text())
    assert document["status"].startswith("final - signed by radiologist")
    # The signed renderings carry the signature, not the draft notice.
    html = (folder / "report.html").read_text()
    assert DRAFT_NOTICE not in html
    assert "final - signed by radiologist" in html
    for dicom in (*folder.glob("sr_*.dcm"), *folder.glob("seg_*.dcm")):
        assert "draft" not in str(pydicom.dcmread(dicom).SeriesDescription).lower()
    assert text in (folder / "report.txt").read_text()
    if shutil.which("pdftotext"):
        pdf = subprocess.run(
            ["pdftotext", str(folder / "report.pdf"), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "<script>alert(1)</script>" in pdf  # shown as text, not markup
        assert DRAFT_NOTICE not in pdf
        assert "final - signed by radiologist" in pdf
        assert text in pdf
