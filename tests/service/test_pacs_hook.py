"""A job by StudyInstanceUID on a real Orthanc, and the signed SR and SEG pushed back.

Orthanc (with its DICOMweb plugin) runs on loopback in its own network namespace
(``radcycle.pacs.orthanc.LocalOrthanc``); the service runs in that namespace too,
with the DICOMweb gateway registered as ``radcycle serve`` registers it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from radcycle.cli.pacs_gateways import PacsAdapter, pacs_registry
from radcycle.pacs.gateway import StudyQuery, open_gateway
from radcycle.pacs.orthanc import LocalOrthanc, OrthancSettings, orthanc_unavailable
from radcycle.service.settings import ServiceSettings
from tests.service.conftest import Running, add_users, login
from tests.service.test_review import wait_job

pytestmark = [pytest.mark.slow, pytest.mark.service]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOrthanc]:
    reason = orthanc_unavailable()
    if reason is not None:
        pytest.skip(f"no local Orthanc: {reason} (scripts/install-system-packages.sh)")
    server = LocalOrthanc(tmp_path_factory.mktemp("orthanc"), OrthancSettings())
    server.start()
    try:
        with server.inside():
            yield server
    finally:
        server.stop()


def test_job_by_study_uid_and_push_back(
    orthanc: LocalOrthanc, patient_dir: Path, tmp_path: Path
) -> None:
    user, password = orthanc.auth
    url = orthanc.dicomweb_url
    files = sorted(p for p in patient_dir.rglob("*.dcm"))
    PacsAdapter(user, password).store(url, files)
    pacs = open_gateway(url, username=user, password=password)
    uids = sorted({m.study_instance_uid for m in pacs.find_studies(StudyQuery())})
    assert len(uids) == 2
    db = f"sqlite:///{tmp_path / 'svc.db'}"
    add_users(db)
    running = Running(
        ServiceSettings(data=tmp_path / "data", database_url=db),
        gateways=pacs_registry(user, password),
    )
    try:
        client = running.client
        tech = login(client, "technologist")
        secret_url = url.replace("://", f"://{user}:{password}@")
        refused = client.post(
            "/api/jobs/pacs", json={"url": secret_url, "study_instance_uids": uids}, headers=tech
        )
        assert refused.status_code == 422
        reply = client.post(
            "/api/jobs/pacs", json={"url": url, "study_instance_uids": uids}, headers=tech
        )
        assert reply.status_code == 202, reply.text
        job = wait_job(client, tech, reply.json()["job"])
        assert job["status"] == "done", job
        # The studies came from the PACS: every instance stored above was retrieved
        # into the job's folder (a polled stage name can be missed when retrieval is fast).
        retrieved = tmp_path / "data" / "pacs" / f"job-{reply.json()['job']}"
        assert len(list(retrieved.rglob("*.dcm"))) == len(files)
        ana = login(client, "radiologist")
        case = client.get(f"/api/cases/{job['case']}", headers=ana).json()
        assert sorted(s["uid"] for s in case["studies"]) == uids
        early = client.post(f"/api/cases/{job['case']}/push", json={}, headers=ana)
        assert early.status_code == 409
        signed = client.post(
            f"/api/cases/{job['case']}/sign", json={"version": case["version"]}, headers=ana
        )
        assert signed.status_code == 200, signed.text
        pushed = client.post(f"/api/cases/{job['case']}/push", json={}, headers=ana)
        assert pushed.status_code == 200, pushed.text
        stored = set(pushed.json()["stored"])
        assert stored
        on_pacs = {ref.sop_instance_uid for uid in uids for ref in pacs.find_instances(uid)}
        assert stored <= on_pacs
    finally:
        running.stop()
        pacs.close()
