"""The written folder: DICOM validity, order-free names, determinism, truth.json."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import date
from pathlib import Path

import numpy as np
import pydicom
import pytest

from radcycle.domain import validate_uid
from radcycle.errors import ExportError, UnsafeOutputError
from radcycle.synth import SyntheticPatient, generate_patient, write_patient


def _series(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout(written: Path, small_patient: SyntheticPatient) -> None:
    names = sorted(p.name for p in written.iterdir())
    folders = [tp.folder for tp in small_patient.timepoints]
    assert names == sorted(["fhir_bundle.json", "truth.json", *folders])
    for tp in small_patient.timepoints:
        assert len(list((written / tp.folder).glob("*.dcm"))) == tp.volume.array.shape[0]


def test_same_patient_same_bytes(
    written: Path, small_patient: SyntheticPatient, tmp_path: Path
) -> None:
    again = write_patient(small_patient, tmp_path / "again")
    assert _digest(again) == _digest(written)


def test_every_file_is_a_valid_ct_image(written: Path, small_patient: SyntheticPatient) -> None:
    patient = small_patient.patient
    seen_sop: set[str] = set()
    for tp in small_patient.timepoints:
        for ds in _series(written / tp.folder):
            assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
            assert ds.SOPClassUID == pydicom.uid.CTImageStorage
            assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
            for keyword in (
                "SOPInstanceUID",
                "StudyInstanceUID",
                "SeriesInstanceUID",
                "FrameOfReferenceUID",
            ):
                validate_uid(str(ds.data_element(keyword).value), keyword)
            assert (ds.PatientID, str(ds.PatientName)) == (patient.patient_id, patient.name)
            assert ds.PatientSex == patient.sex
            assert ds.StudyInstanceUID == tp.study_instance_uid
            assert ds.SeriesInstanceUID == tp.series_instance_uid
            assert ds.FrameOfReferenceUID == tp.frame_of_reference_uid
            assert ds.StudyDate == ds.SeriesDate == tp.date.strftime("%Y%m%d")
            assert ds.Modality == "CT"
            assert ds.BodyPartExamined == "CHEST"
            assert ds.Manufacturer == "radcycle-synth"
            assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
            assert (ds.Rows, ds.Columns) == (128, 128)
            assert float(ds.RescaleSlope) == 1.0
            seen_sop.add(ds.SOPInstanceUID)
    total = sum(tp.volume.array.shape[0] for tp in small_patient.timepoints)
    assert len(seen_sop) == total
    studies = {tp.study_instance_uid for tp in small_patient.timepoints}
    assert len(studies) == len(small_patient.timepoints)


def test_positions_and_pixels_rebuild_the_volume(
    written: Path, small_patient: SyntheticPatient
) -> None:
    for tp in small_patient.timepoints:
        slices = _series(written / tp.folder)
        slices.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
        z = np.array([float(ds.ImagePositionPatient[2]) for ds in slices])
        steps = np.diff(z)
        assert np.all(steps > 0)
        np.testing.assert_allclose(steps, float(slices[0].SpacingBetweenSlices), atol=1e-3)
        np.testing.assert_allclose(
            [float(v) for v in slices[0].ImagePositionPatient], tp.volume.origin, atol=1e-3
        )
        hu = np.stack(
            [ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in slices]
        )
        np.testing.assert_array_equal(hu, tp.volume.array)


def test_file_names_do_not_encode_order(written: Path, small_patient: SyntheticPatient) -> None:
    folder = written / small_patient.timepoints[0].folder
    slices = sorted(_series(folder), key=lambda ds: int(ds.InstanceNumber))
    names = [Path(ds.filename).name for ds in slices]
    assert names != sorted(names)
    assert all(len(Path(ds.filename).stem) == 16 for ds in slices)
    assert {ds.InstanceNumber for ds in slices} == set(range(1, len(slices) + 1))


def test_truth_json_matches_the_files(written: Path, small_patient: SyntheticPatient) -> None:
    truth = json.loads((written / "truth.json").read_text())
    assert truth == json.loads(json.dumps(small_patient.truth()))
    assert truth["seed"] == small_patient.seed
    dates = [date.fromisoformat(tp["date"]) for tp in truth["timepoints"]]
    assert all(75 <= (b - a).days <= 105 for a, b in itertools.pairwise(dates))
    np.testing.assert_allclose(truth["timepoints"][0]["baseline_to_scan"], np.eye(4))
    for tp in truth["timepoints"]:
        ds = _series(written / tp["folder"])[0]
        assert ds.StudyInstanceUID == tp["study_instance_uid"]
        for lesion in tp["lesions"]:
            assert set(lesion) >= {
                "lesion_id",
                "type",
                "organ",
                "side",
                "zone",
                "centre_mm",
                "long_axis_mm",
                "short_axis_mm",
                "max_3d_diameter_mm",
                "volume_mm3",
                "solid_component_mm",
                "status",
            }


@pytest.mark.parametrize("bad", ["", "1.2.03", "x"])
def test_header_rejects_bad_uids(small_patient: SyntheticPatient, bad: str) -> None:
    from radcycle.errors import InputError
    from radcycle.synth import CTSeriesHeader

    with pytest.raises(InputError):
        CTSeriesHeader(
            patient=small_patient.patient,
            study_instance_uid=bad,
            series_instance_uid="1.2.3",
            frame_of_reference_uid="1.2.3",
            study_date=date(2024, 1, 1),
        )


def test_a_new_patient_replaces_an_earlier_one_only_with_force(
    written: Path, small_patient: SyntheticPatient, tmp_path: Path
) -> None:
    target = tmp_path / "reuse"
    write_patient(generate_patient(9, timepoints=2, slices=16, matrix=64), target)
    earlier = _digest(target)
    with pytest.raises(UnsafeOutputError, match="--force"):
        write_patient(small_patient, target)
    assert _digest(target) == earlier
    write_patient(small_patient, target, force=True)
    assert _digest(target) == _digest(written)


def test_a_folder_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "tp0_20200101").mkdir()
    (tmp_path / "tp0_20200101" / "a.dcm").write_bytes(b"x")
    with pytest.raises(ExportError, match="did not write"):
        write_patient(generate_patient(9, timepoints=1, slices=16, matrix=64), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert (tmp_path / "tp0_20200101" / "a.dcm").exists()
