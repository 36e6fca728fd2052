"""``radcycle listen``'s C-STORE SCP, fed by a real Orthanc and by a hostile sender."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE

from radcycle.errors import InputError
from radcycle.pacs.dicomweb import DicomWebGateway
from radcycle.pacs.gateway import collect_instances
from radcycle.pacs.listener import (
    CompletedStudy,
    ListenerSettings,
    QueueFolder,
    StoreListener,
    StudyTracker,
)
from radcycle.pacs.orthanc import LocalOrthanc
from tests.pacs.conftest import LISTENER_AET, LISTENER_PORT, make_study


def test_a_study_is_complete_only_after_the_quiet_time() -> None:
    tracker = StudyTracker(quiet_seconds=10)
    folder = Path("/nowhere")
    tracker.received("1.2.3", folder, "A", now=0.0)
    tracker.received("1.2.3", folder, "B", now=8.0)
    tracker.received("1.2.4", folder, "A", now=9.0)
    assert tracker.complete(now=17.9) == []
    (first,) = tracker.complete(now=18.0)
    assert (first.study_instance_uid, first.received, first.calling_aets) == (
        "1.2.3",
        2,
        ("A", "B"),
    )
    assert tracker.pending() == ["1.2.4"]
    tracker.received("1.2.3", folder, "A", now=30.0)  # it comes again: handed on again later
    assert [s.study_instance_uid for s in tracker.complete(now=40.0)] == ["1.2.3", "1.2.4"]


def test_settings_refuse_nonsense(tmp_path: Path) -> None:
    for bad in ({"port": 0}, {"quiet_seconds": 0}, {"ae_title": "X" * 17}):
        with pytest.raises(InputError):
            ListenerSettings(tmp_path, **bad)  # type: ignore[arg-type]
    assert ListenerSettings(tmp_path).loopback_only
    assert not ListenerSettings(tmp_path, host="0.0.0.0").loopback_only


class Collect:
    def __init__(self) -> None:
        self.studies: list[CompletedStudy] = []
        self.arrived = threading.Event()

    def __call__(self, study: CompletedStudy) -> None:
        self.studies.append(study)
        self.arrived.set()


@pytest.fixture
def listening(orthanc: LocalOrthanc, tmp_path: Path) -> Iterator[tuple[StoreListener, Collect]]:
    collect = Collect()
    settings = ListenerSettings(
        tmp_path / "incoming", port=LISTENER_PORT, ae_title=LISTENER_AET, quiet_seconds=1.0
    )
    with StoreListener(settings, collect) as listener:
        yield listener, collect


def _orthanc_id(orthanc: LocalOrthanc, client: httpx.Client, study_uid: str) -> str:
    found = client.post(f"{orthanc.rest_url}/tools/lookup", content=study_uid).json()
    return str(next(f["ID"] for f in found if f["Type"] == "Study"))


@pytest.mark.service
def test_orthanc_sends_a_study_and_it_is_filed_then_handed_on_once(
    orthanc: LocalOrthanc, listening: tuple[StoreListener, Collect], tmp_path: Path
) -> None:
    _, collect = listening
    files = make_study(tmp_path / "study", slices=6, seed=3)
    user, password = orthanc.auth
    with DicomWebGateway.from_url(orthanc.dicomweb_url, username=user, password=password) as gw:
        gw.store(collect_instances(files).instances)
    study = str(pydicom.dcmread(files[0]).StudyInstanceUID)
    with httpx.Client(auth=orthanc.auth, timeout=30) as client:
        ident = _orthanc_id(orthanc, client, study)
        sent = client.post(f"{orthanc.rest_url}/modalities/{LISTENER_AET}/store", content=ident)
        assert sent.status_code == 200, sent.text
    assert collect.arrived.wait(10)
    (done,) = collect.studies
    assert done.study_instance_uid == study
    assert done.instances == 6
    assert done.calling_aets == ("ORTHANC",)
    filed = sorted(p.name for p in done.folder.iterdir())
    assert filed == sorted(f"{pydicom.dcmread(f).SOPInstanceUID}.dcm" for f in files)
    time.sleep(1.5)
    assert len(collect.studies) == 1  # handed on once, not again while quiet


def _send(dataset: Dataset, port: int = LISTENER_PORT) -> int:
    ae = AE(ae_title="HOSTILE")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title=LISTENER_AET)
    assert assoc.is_established
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            status = assoc.send_c_store(dataset)
        return int(status.Status)
    finally:
        assoc.release()


def _ct(template: Path, study: str, sop: str) -> Dataset:
    ds = pydicom.dcmread(template)
    with warnings.catch_warnings():  # pydicom warns of the invalid UIDs we mean to send
        warnings.simplefilter("ignore")
        ds.StudyInstanceUID = study
        ds.SOPInstanceUID = sop
        ds.file_meta.MediaStorageSOPInstanceUID = sop
    return ds


@pytest.mark.service
def test_bad_uids_are_refused_and_nothing_is_overwritten(
    listening: tuple[StoreListener, Collect], tmp_path: Path
) -> None:
    listener, collect = listening
    (template,) = make_study(tmp_path / "t", slices=1)
    study, sop = generate_uid(), generate_uid()
    outside = listener.settings.folder.parent
    before = sorted(p.name for p in outside.iterdir())
    for bad_study, bad_sop in (("../../escape", sop), (study, "../x"), ("", sop), (study, "1.02")):
        assert _send(_ct(template, bad_study, bad_sop)) == 0xC000
    assert sorted(p.name for p in outside.iterdir()) == before
    assert _send(_ct(template, study, sop)) == 0x0000
    target = listener.settings.folder / study / f"{sop}.dcm"
    original = target.read_bytes()
    assert _send(_ct(template, study, sop)) == 0x0000  # the same again: accepted, left as it is
    changed = _ct(template, study, sop)
    changed.PatientID = "SOMEONE-ELSE"
    assert _send(changed) == 0x0111  # another instance under the same UID: refused
    assert target.read_bytes() == original
    assert len(listener.rejected) == 5
    assert collect.arrived.wait(5)
    assert collect.studies[0].instances == 1


@pytest.mark.service
def test_only_allowed_calling_aets_get_an_association(
    orthanc: LocalOrthanc, tmp_path: Path
) -> None:
    settings = ListenerSettings(
        tmp_path / "in", port=LISTENER_PORT + 1, calling_aets=frozenset({"ORTHANC"})
    )
    with StoreListener(settings):
        ae = AE(ae_title="HOSTILE")
        ae.add_requested_context(CTImageStorage)
        assoc = ae.associate("127.0.0.1", LISTENER_PORT + 1, ae_title="RADCYCLE")
        assert assoc.is_rejected


@pytest.mark.service
def test_a_study_not_handed_on_before_a_restart_is_handed_on_after_it(
    orthanc: LocalOrthanc, tmp_path: Path
) -> None:
    (template,) = make_study(tmp_path / "t", slices=1)
    settings = ListenerSettings(
        tmp_path / "in", port=LISTENER_PORT + 2, ae_title=LISTENER_AET, quiet_seconds=0.5
    )
    failed = threading.Event()

    def broken(study: CompletedStudy) -> None:
        failed.set()
        raise RuntimeError("the job service is down")

    study = generate_uid()
    with StoreListener(settings, broken):
        assert _send(_ct(template, study, generate_uid()), LISTENER_PORT + 2) == 0
        assert failed.wait(5)
    collect = Collect()
    with StoreListener(settings, collect) as listener:
        assert listener.recovered == [study]
        assert collect.arrived.wait(5)
    (again,) = collect.studies
    assert (again.study_instance_uid, again.instances, again.received) == (study, 1, 0)
    with StoreListener(settings, collect) as listener:
        assert listener.recovered == []  # handed on as it is: not again


def test_queue_folder_writes_one_file_per_study_never_replacing(tmp_path: Path) -> None:
    hook = QueueFolder(tmp_path / "queue")
    study = CompletedStudy("1.2.3", tmp_path / "1.2.3", 4, 4, ("A",), "t0", "t1")
    hook(study)
    hook(study)
    files = sorted((tmp_path / "queue").glob("*.json"))
    assert len(files) == 2
    assert all(f.name.endswith("-1.2.3.json") for f in files)
