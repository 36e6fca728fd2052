"""Planted identifiers: the checker finds each before de-identification, none after."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydicom
import pytest

from radcycle.privacy.batch import deidentify_tree, read_manifest
from radcycle.privacy.check import check_tree
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.profile import DeidOptions

from .conftest import ALICE, BOB

ALL_OPTIONS = DeidOptions(dates="modified", clean_descriptors=True, clean_structured=True)


def _run(src: Path, out: Path, key: DeidKey, options: DeidOptions = ALL_OPTIONS) -> None:
    deidentify_tree(src, out, key, options, workers=1)


def test_checker_finds_each_planted_identifier_before(planted: Path) -> None:
    report = check_tree(planted, planted)
    found = {(leak.path, leak.detail.upper()) for leak in report.leaks}
    paths = {leak.path for leak in report.leaks}
    # Private tags, their nested sequence, overlays and unmarked files.
    assert "(0011,1010)" in paths
    assert "(0011,1012)[0]/(0011,1011)" in paths
    assert "(6000,3000)" in paths
    assert "(0012,0062)" in paths
    # Nested sequence, series description, RTSTRUCT ROI name, SR text (two levels deep).
    assert ("(0040,0275)[0]/(0040,1001)", ALICE.patient_id) in found
    assert ("(0008,103E)", "QUARRINGTON") in found
    assert ("(3006,0020)[0]/(3006,0026)", "QUARRINGTON") in found
    assert ("(0040,A730)[0]/(0040,A160)", "PHILOMENA") in found
    assert ("(0040,A730)[0]/(0040,A160)", "2023-03-14") in found
    assert ("(0040,A730)[0]/(0040,A730)[0]/(0040,A160)", ALICE.institution.upper()) in found
    # Birth date, accession number, file and folder names.
    assert ("(0010,0030)", ALICE.birth_date) in found
    assert ("(0008,0050)", BOB.accession) in found
    assert any(leak.path == "file name" for leak in report.leaks)


@pytest.mark.parametrize(
    "options",
    [
        DeidOptions(),
        ALL_OPTIONS,
        DeidOptions(dates="full", retain_institution=True, clean_descriptors=True),
        DeidOptions(retain_uids=True, retain_device=True, retain_patient_chars=True),
    ],
    ids=["basic", "modified-clean", "full-institution", "retain-uids"],
)
def test_no_leak_after_deid(
    planted: Path, tmp_path: Path, key: DeidKey, options: DeidOptions
) -> None:
    out = tmp_path / "out"
    _run(planted, out, key, options)
    report = check_tree(out, planted)
    assert report.files_scanned == 13
    assert report.leaks == []


def test_clean_options_keep_text_with_identifiers_masked(
    planted: Path, tmp_path: Path, key: DeidKey
) -> None:
    out = tmp_path / "out"
    _run(planted, out, key)
    records = {r.source: r for r in read_manifest(out, key)}
    rt = pydicom.dcmread(out / records["Quarrington_Philomena/study1/rtstruct.dcm"].output)
    assert rt.StructureSetROISequence[0].ROIName == "GTV " + "*" * len("Quarrington")
    sr = pydicom.dcmread(out / records["Quarrington_Philomena/study1/report.dcm"].output)
    text = sr.ContentSequence[0].TextValue
    assert text.startswith("Patient ********* seen ")
    assert ALICE.patient_id not in text
    ct = pydicom.dcmread(out / records["Quarrington_Philomena/study1/MRN-884422_0.dcm"].output)
    assert ct.SeriesDescription == "CT chest *********** follow-up"
    assert ct.PatientIdentityRemoved == "YES"
    codes = [item.CodeValue for item in ct.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113104", "113105", "113107"]
    assert "RequestAttributesSequence" not in ct
    assert all(not elem.tag.is_private for elem in ct)
    assert all(elem.tag.group != 0x6000 for elem in ct)


def test_broken_and_non_dicom_files_are_reported(
    planted: Path, tmp_path: Path, key: DeidKey
) -> None:
    summary = deidentify_tree(planted, tmp_path / "out", key, ALL_OPTIONS, workers=1)
    by_source = {r.source: r for r in summary.records}
    assert by_source["notes.txt"].status == "skipped"
    assert by_source["broken.dcm"].status in ("skipped", "failed")
    assert by_source["broken.dcm"].reason
    assert summary.count("written") == 13


def _study_dates(out: Path, key: DeidKey, person_id: str) -> dict[str, str]:
    dates = {}
    for record in read_manifest(out, key):
        if record.patient_id == person_id and record.output.endswith(".dcm"):
            ds = pydicom.dcmread(out / record.output)
            dates[str(ds.StudyInstanceUID)] = str(ds.StudyDate)
    return dates


def test_modified_dates_keep_intervals(planted: Path, tmp_path: Path, key: DeidKey) -> None:
    out = tmp_path / "out"
    _run(planted, out, key)
    dates = sorted(
        dt.date.fromisoformat(d) for d in set(_study_dates(out, key, ALICE.patient_id).values())
    )
    assert len(dates) == 2
    assert (dates[1] - dates[0]).days == (dt.date(2023, 9, 15) - dt.date(2023, 3, 14)).days
    assert dates[0] != dt.date(2023, 3, 14)
    assert dates[0] - dt.date(2023, 3, 14) == dt.timedelta(days=key.day_shift(ALICE.patient_id))


def test_same_key_gives_identical_output(planted: Path, tmp_path: Path, key: DeidKey) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _run(planted, first, key)
    _run(planted, second, key)
    files_a = sorted(p.relative_to(first) for p in first.rglob("*.dcm"))
    files_b = sorted(p.relative_to(second) for p in second.rglob("*.dcm"))
    assert files_a == files_b
    assert len(files_a) == 13
    for rel in files_a:
        assert (first / rel).read_bytes() == (second / rel).read_bytes()


def _identifiers(out: Path) -> set[str]:
    found: set[str] = set()
    for path in out.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        found |= {str(ds.PatientID), str(ds.PatientName), str(ds.StudyInstanceUID)}
        found |= {str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID), str(ds.FrameOfReferenceUID)}
    return found


def test_different_keys_are_unlinkable(
    planted: Path, tmp_path: Path, key: DeidKey, other_key: DeidKey
) -> None:
    _run(planted, tmp_path / "a", key)
    _run(planted, tmp_path / "b", other_key)
    assert _identifiers(tmp_path / "a").isdisjoint(_identifiers(tmp_path / "b"))


def test_rtstruct_references_follow_the_images(planted: Path, tmp_path: Path, key: DeidKey) -> None:
    out = tmp_path / "out"
    _run(planted, out, key)
    records = {r.source: r for r in read_manifest(out, key)}
    rt = pydicom.dcmread(out / records["Vandersloot_Ignatius/study1/rtstruct.dcm"].output)
    images = [
        pydicom.dcmread(
            out / records[f"Vandersloot_Ignatius/study1/{BOB.patient_id}_{i}.dcm"].output
        )
        for i in range(3)
    ]
    frame = rt.ReferencedFrameOfReferenceSequence[0]
    series = frame.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    refs = [item.ReferencedSOPInstanceUID for item in series.ContourImageSequence]
    assert refs == [img.SOPInstanceUID for img in images]
    assert series.SeriesInstanceUID == images[0].SeriesInstanceUID
    assert frame.FrameOfReferenceUID == images[0].FrameOfReferenceUID
    assert rt.PatientID == images[0].PatientID == key.patient_id(BOB.patient_id)
