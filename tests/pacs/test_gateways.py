"""Both gateways against a real Orthanc: query, retrieve, store, and check after storing."""

from __future__ import annotations

import filecmp
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pydicom
import pytest

from radcycle.errors import InputError, NotDicomError, PacsError, UnsafeOutputError
from radcycle.pacs.dicomweb import DicomWebGateway
from radcycle.pacs.dimse import DimseGateway
from radcycle.pacs.gateway import (
    InstanceRef,
    PacsGateway,
    StudyQuery,
    collect_instances,
    open_gateway,
)
from radcycle.pacs.orthanc import LocalOrthanc
from radcycle.reporting.export.seg import LesionSegment, write_seg
from radcycle.reporting.export.sr import write_sr
from tests.pacs.conftest import MOVE_PORT, OUR_AET, make_study
from tests.reporting.export.conftest import build_patient

pytestmark = pytest.mark.service


def _dicomweb(orthanc: LocalOrthanc) -> DicomWebGateway:
    user, password = orthanc.auth
    return DicomWebGateway.from_url(orthanc.dicomweb_url, username=user, password=password)


def _gateway(orthanc: LocalOrthanc, kind: str) -> PacsGateway:
    if kind == "dicomweb":
        return _dicomweb(orthanc)
    return DimseGateway.from_url(
        orthanc.dicom_url, calling_aet=OUR_AET, retrieve_method=kind, move_port=MOVE_PORT
    )


@pytest.fixture
def dicomweb(orthanc: LocalOrthanc) -> Iterator[DicomWebGateway]:
    with _dicomweb(orthanc) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def stored_study(orthanc: LocalOrthanc, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    files = make_study(tmp_path_factory.mktemp("study"), slices=5, seed=1)
    with _dicomweb(orthanc) as gateway:
        outcome = gateway.store(collect_instances(files).instances)
    assert len(outcome.stored) == 5
    assert not outcome.failed
    return files


@pytest.mark.parametrize("kind", ["dicomweb", "get", "move"])
def test_echo_find_and_retrieve_give_back_every_instance(
    orthanc: LocalOrthanc, stored_study: list[Path], tmp_path: Path, kind: str
) -> None:
    gateway = _gateway(orthanc, kind)
    assert isinstance(gateway, PacsGateway)
    assert gateway.echo() > 0
    study = str(pydicom.dcmread(stored_study[0]).StudyInstanceUID)
    matches = gateway.find_studies(StudyQuery(patient_id="PACS-1"))
    assert [m.study_instance_uid for m in matches] == [study]
    assert matches[0].modalities == ("CT",)
    assert matches[0].instances == 5
    assert gateway.find_studies(StudyQuery(patient_id="nobody")) == []
    got = gateway.retrieve(study, tmp_path / kind)
    assert len(got.files) == 5
    originals = {str(pydicom.dcmread(p).SOPInstanceUID): p for p in stored_study}
    for path in got.files:
        original = originals[path.name.removesuffix(".dcm")]
        a, b = pydicom.dcmread(path), pydicom.dcmread(original)
        assert np.array_equal(a.pixel_array, b.pixel_array)
        assert a.SOPInstanceUID == b.SOPInstanceUID
        if kind == "dicomweb":  # WADO-RS hands back the stored file itself
            assert filecmp.cmp(path, original, shallow=False)
    gateway.close()


@pytest.mark.parametrize("kind", ["dicomweb", "get"])
def test_retrieve_never_replaces_a_file(
    orthanc: LocalOrthanc, stored_study: list[Path], tmp_path: Path, kind: str
) -> None:
    gateway = _gateway(orthanc, kind)
    study = str(pydicom.dcmread(stored_study[0]).StudyInstanceUID)
    first = gateway.retrieve(study, tmp_path)
    before = first.files[0].read_bytes()
    first.files[0].write_bytes(b"mine")
    with pytest.raises((UnsafeOutputError, PacsError)):
        gateway.retrieve(study, tmp_path)
    assert first.files[0].read_bytes() == b"mine"
    assert before != b"mine"
    gateway.close()


def test_unknown_study_is_an_error_not_an_empty_folder(
    orthanc: LocalOrthanc, tmp_path: Path
) -> None:
    for kind in ("dicomweb", "get", "move"):
        with _gateway(orthanc, kind) as gateway, pytest.raises(PacsError):
            gateway.retrieve("1.2.3.4.5.6", tmp_path / kind)


def test_wado_rs_frames_with_explicit_media_types(
    dicomweb: DicomWebGateway, stored_study: list[Path]
) -> None:
    ds = pydicom.dcmread(stored_study[0])
    frames = dicomweb.retrieve_frames(
        str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID), [1]
    )
    assert frames == [ds.PixelData]


def test_sr_and_seg_pushed_by_stow_rs_are_found_by_qido(
    dicomweb: DicomWebGateway, tmp_path: Path
) -> None:
    patient = build_patient(tmp_path / "patient")
    tp = patient.timepoints[0]
    masks = [
        LesionSegment(les, tp.masks[les.tracking_uid])
        for les in patient.lesions
        if les.tracking_uid in tp.masks
    ]
    seg = write_seg(tmp_path / "seg.dcm", masks, tp.datasets)
    write_sr(tmp_path / "sr.dcm", patient.lesions, tp.datasets, time_point=tp.label, seg=seg)
    gateway = dicomweb
    found = collect_instances([tmp_path / "seg.dcm", tmp_path / "sr.dcm"])
    before = gateway.verify_stored(f.ref for f in found.instances)
    assert not before.ok
    assert len(before.missing) == 2
    outcome = gateway.store(found.instances)
    assert not outcome.failed
    after = gateway.verify_stored(outcome.stored)
    assert after.ok
    assert len(after.present) == 2
    classes = {r.sop_class_uid for r in gateway.find_instances(seg.StudyInstanceUID)}
    assert {"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.88.34"} <= classes


def test_c_store_then_c_find_sees_the_instances(orthanc: LocalOrthanc, tmp_path: Path) -> None:
    files = make_study(tmp_path, slices=3, seed=7)
    gateway = DimseGateway.from_url(orthanc.dicom_url, calling_aet=OUR_AET)
    outcome = gateway.store(collect_instances(files).instances)
    assert len(outcome.stored) == 3
    assert gateway.verify_stored(outcome.stored).ok
    ghost = InstanceRef(outcome.stored[0].study_instance_uid, "1.2.3", "1.2.3.4.5")
    assert gateway.verify_stored([ghost]).missing == (ghost,)


def test_wrong_password_and_dead_peers_give_pacs_errors(orthanc: LocalOrthanc) -> None:
    bad = DicomWebGateway.from_url(orthanc.dicomweb_url, username="radcycle", password="wrong")
    with bad, pytest.raises(PacsError, match="HTTP 401"):
        bad.find_studies(StudyQuery())
    dead = DicomWebGateway.from_url("http://127.0.0.1:9/dicom-web", timeout=2)
    with dead, pytest.raises(PacsError, match="cannot reach"):
        dead.echo()
    with pytest.raises(PacsError, match="no association"):
        DimseGateway.from_url("dicom://ORTHANC@127.0.0.1:9", timeout=2).echo()
    user, password = orthanc.auth
    with httpx.Client(auth=(user, password)) as client:  # the REST API is up all along
        assert client.get(f"{orthanc.rest_url}/system").status_code == 200


def test_non_dicom_files_are_refused_by_name_and_skipped_in_folders(tmp_path: Path) -> None:
    make_study(tmp_path / "mixed", slices=2)
    (tmp_path / "mixed" / "notes.txt").write_text("not an image")
    found = collect_instances([tmp_path / "mixed"])
    assert len(found.instances) == 2
    assert [p.name for p, _ in found.skipped] == ["notes.txt"]
    with pytest.raises(NotDicomError, match=r"notes\.txt"):
        collect_instances([tmp_path / "mixed" / "notes.txt"])


def test_urls_pick_the_protocol() -> None:
    web = open_gateway("http://127.0.0.1:8042/dicom-web")
    web.close()
    assert isinstance(web, DicomWebGateway)
    assert isinstance(open_gateway("dicom://PACS@127.0.0.1:104"), DimseGateway)
    bad = ("ftp://x", "dicom://127.0.0.1:104", "dicom://A@h:port", "dicom://AET_TOO_LONG_XXXXX@h:1")
    for url in bad:
        with pytest.raises(InputError):
            open_gateway(url)
