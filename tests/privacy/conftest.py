"""Synthetic DICOM with planted identifiers: CT slices, an RTSTRUCT and an SR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from radcycle.privacy.keys import DeidKey

CT = "1.2.840.10008.5.1.4.1.1.2"
RTSTRUCT = "1.2.840.10008.5.1.4.1.1.481.3"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


@dataclass(frozen=True)
class Person:
    """The planted identity of one synthetic patient."""

    name: str
    patient_id: str
    birth_date: str
    accession: str
    institution: str = "Hopital Fictif Sainte Zoe"


ALICE = Person("Quarrington^Philomena", "MRN-884422", "19610317", "ACC99172")
BOB = Person("Vandersloot^Ignatius", "MRN-551903", "19480802", "ACC41230")


def _base(person: Person, sop_class: str, uid: str, study: int, series: int, date: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid
    root = f"1.2.826.0.1.3680043.9.7777.{person.patient_id[-3:]}"
    ds.StudyInstanceUID = f"{root}.{study}"
    ds.SeriesInstanceUID = f"{root}.{study}.{series}"
    ds.FrameOfReferenceUID = f"{root}.{study}.99"
    ds.PatientName = person.name
    ds.PatientID = person.patient_id
    ds.PatientBirthDate = person.birth_date
    ds.PatientSex = "F"
    ds.PatientAge = "062Y"
    ds.AccessionNumber = person.accession
    ds.InstitutionName = person.institution
    ds.ReferringPhysicianName = "Oyelaran^Theodora"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
    ds.StudyTime = ds.ContentTime = "101530"
    ds.StudyID = f"S{study}77"
    ds.Manufacturer = "ACME"
    family = person.name.split("^")[0]
    # Planted: series description, nested sequence, private tags.
    ds.SeriesDescription = f"CT chest {family} follow-up"
    request = Dataset()
    request.RequestedProcedureID = person.patient_id
    request.ReasonForTheRequestedProcedure = f"follow-up of {person.name.replace('^', ' ')}"
    ds.RequestAttributesSequence = [request]
    block = ds.private_block(0x0011, "ACME PRIVATE 1.0", create=True)
    block.add_new(0x10, "LO", person.name)
    inner = Dataset()
    inner.add_new(0x00110010, "LO", "ACME PRIVATE 1.0")
    inner.add_new(0x00111011, "LO", person.patient_id)
    block.add_new(0x12, "SQ", [inner])
    # An overlay (PS3.15: 60xx groups removed).
    ds.add_new(0x60000010, "US", 4)
    ds.add_new(0x60000011, "US", 4)
    ds.add_new(0x60003000, "OW", b"\x00\x01" * 1)
    return ds


def ct_slice(person: Person, index: int, study: int = 1, date: str = "20230314") -> Dataset:
    """One 16x16 CT slice with geometry and pixel data."""
    root = f"1.2.826.0.1.3680043.9.7777.{person.patient_id[-3:]}"
    ds = _base(person, CT, f"{root}.{study}.1.{index + 1}", study, 1, date)
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImagePositionPatient = [-100.0, -120.5, 30.0 + 2.5 * index]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.75, 0.75]
    ds.SliceThickness = 2.5
    ds.Rows = ds.Columns = 16
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 1
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    rng = np.random.default_rng(index + 100 * study)
    ds.PixelData = rng.integers(0, 2000, (16, 16), dtype=np.int16).tobytes()
    ds.InstanceNumber = index + 1
    return ds


def rtstruct(person: Person, slices: list[Dataset]) -> Dataset:
    """An RTSTRUCT whose contour references ``slices``; the ROI name holds the family name."""
    first = slices[0]
    ds = _base(person, RTSTRUCT, f"{first.StudyInstanceUID}.5.1", 1, 5, str(first.StudyDate))
    ds.Modality = "RTSTRUCT"
    ds.StructureSetLabel = "GTV"
    family = person.name.split("^")[0]
    contour_images = []
    for s in slices:
        ref = Dataset()
        ref.ReferencedSOPClassUID = s.SOPClassUID
        ref.ReferencedSOPInstanceUID = s.SOPInstanceUID
        contour_images.append(ref)
    series = Dataset()
    series.SeriesInstanceUID = first.SeriesInstanceUID
    series.ContourImageSequence = contour_images
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study.RTReferencedSeriesSequence = [series]
    frame = Dataset()
    frame.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame.RTReferencedStudySequence = [study]
    ds.ReferencedFrameOfReferenceSequence = [frame]
    roi = Dataset()
    roi.ROINumber = 1
    roi.ReferencedFrameOfReferenceUID = first.FrameOfReferenceUID
    roi.ROIName = f"GTV {family}"
    roi.ROIGenerationAlgorithm = "MANUAL"
    ds.StructureSetROISequence = [roi]
    contour = Dataset()
    image_ref = Dataset()
    image_ref.ReferencedSOPClassUID = first.SOPClassUID
    image_ref.ReferencedSOPInstanceUID = first.SOPInstanceUID
    contour.ContourImageSequence = [image_ref]
    contour.ContourGeometricType = "CLOSED_PLANAR"
    contour.NumberOfContourPoints = 3
    contour.ContourData = [0, 0, 30, 10, 0, 30, 0, 10, 30]
    roi_contour = Dataset()
    roi_contour.ReferencedROINumber = 1
    roi_contour.ContourSequence = [contour]
    ds.ROIContourSequence = [roi_contour]
    return ds


def sr_document(person: Person, date: str = "20230314") -> Dataset:
    """A Comprehensive SR whose nested TEXT items name the patient, ID and date."""
    root = f"1.2.826.0.1.3680043.9.7777.{person.patient_id[-3:]}"
    ds = _base(person, COMPREHENSIVE_SR, f"{root}.1.9.1", 1, 9, date)
    ds.Modality = "SR"
    ds.ValueType = "CONTAINER"
    given = person.name.split("^")[1]
    text = Dataset()
    text.RelationshipType = "CONTAINS"
    text.ValueType = "TEXT"
    text.TextValue = f"Patient {given} seen {date[:4]}-{date[4:6]}-{date[6:]} ({person.patient_id})"
    inner = Dataset()
    inner.RelationshipType = "HAS PROPERTIES"
    inner.ValueType = "TEXT"
    inner.TextValue = f"compared with prior at {person.institution}"
    text.ContentSequence = [inner]
    ds.ContentSequence = [text]
    return ds


def write_patient(folder: Path, person: Person, studies: dict[int, str], n: int = 3) -> None:
    """Write ``n`` CT slices per study, plus an RTSTRUCT and an SR for study 1."""
    for study, date in studies.items():
        slices = [ct_slice(person, i, study, date) for i in range(n)]
        target = folder / person.name.replace("^", "_") / f"study{study}"
        target.mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(slices):
            s.save_as(target / f"{person.patient_id}_{i}.dcm", enforce_file_format=True)
        if study == 1:
            rtstruct(person, slices).save_as(target / "rtstruct.dcm", enforce_file_format=True)
            sr_document(person, date).save_as(target / "report.dcm", enforce_file_format=True)


@pytest.fixture
def key() -> DeidKey:
    return DeidKey(bytes(range(32)))


@pytest.fixture
def other_key() -> DeidKey:
    return DeidKey(bytes(range(100, 132)))


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """Two patients; Alice has two studies six months apart."""
    root = tmp_path / "originals"
    write_patient(root, ALICE, {1: "20230314", 2: "20230915"})
    write_patient(root, BOB, {1: "20220101"})
    (root / "notes.txt").write_text("not DICOM\n", encoding="utf-8")
    (root / "broken.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\x40")
    return root
