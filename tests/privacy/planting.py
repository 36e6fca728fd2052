"""Planted identifiers as data: each case is a DICOM data set and what it hides.

A case names its category, builds its data set (with pydicom) and lists the
secrets: strings the checker must find in the original and nobody may find in
the output. The suite grows by adding a :class:`Case` to :data:`CASES`; every
case runs in every :data:`VARIANTS` encoding (explicit and implicit VR little
endian, with and without the Part-10 preamble).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

CT = "1.2.840.10008.5.1.4.1.1.2"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
ROOT = "1.2.826.0.1.3680043.9.7777.31"
MRN, BIRTH, VISIT = "MRN-884422", "19610317", "20230314"
PHONE, ADDRESS = "+44 20 7946 0958", "12 Lantern Row, Brackwater"


@dataclass(frozen=True)
class Case:
    """One planted case.

    Attributes:
        id: test id.
        category: what kind of identifier it plants (for the counts).
        build: makes the original data set (file meta included).
        secrets: strings found in the original, absent from every output.
    """

    id: str
    category: str
    build: Callable[[], Dataset]
    secrets: tuple[str, ...]


def base(name: str, charset: str = "ISO_IR 192", sop_class: str = CT, n: int = 1) -> Dataset:
    """A small image of one patient with the usual identifiers."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = f"{ROOT}.1.1.{n}"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = charset
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, f"{ROOT}.1.1.{n}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = f"{ROOT}.1", f"{ROOT}.1.1"
    ds.FrameOfReferenceUID = f"{ROOT}.1.9"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = name, MRN, BIRTH
    ds.PatientTelephoneNumbers, ds.PatientAddress = PHONE, ADDRESS
    ds.AccessionNumber, ds.StudyDate, ds.StudyTime = "ACC99172", VISIT, "101530"
    ds.ReferringPhysicianName = "Oyelaran^Theodora"
    ds.Modality, ds.Manufacturer = "CT" if sop_class == CT else "SR", "ACME"
    if sop_class == CT:
        ds.Rows = ds.Columns = 4
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 0], [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.5, 0.5]
        ds.PixelData = bytes(range(32))
    return ds


def _item(value_type: str, relationship: str = "CONTAINS", **values: object) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = relationship, value_type
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator = "121071", "DCM"
    concept.CodeMeaning = "Finding"
    item.ConceptNameCodeSequence = [concept]
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def sr_tree() -> Dataset:
    """An SR whose TEXT items, three levels deep, name a relative, a phone, an address."""
    ds = base("Quarrington^Philomena", sop_class=COMPREHENSIVE_SR)
    ds.ResponsiblePerson = "Quarrington^Griselda"
    ds.ValueType = "CONTAINER"
    unit = Dataset()
    unit.CodeValue, unit.CodingSchemeDesignator, unit.CodeMeaning = "mm", "UCUM", "mm"
    measured = Dataset()
    measured.NumericValue, measured.MeasurementUnitsCodeSequence = "12.5", [unit]
    deepest = _item("TEXT", "HAS PROPERTIES", TextValue=f"{MRN} seen 2023-03-14")
    middle = _item("CONTAINER", ContinuityOfContent="SEPARATE", ContentSequence=[deepest])
    text = _item(
        "TEXT",
        TextValue="Aunt Griselda Quarrington called from +44 20 7946 0958, 12 Lantern Row",
    )
    number = _item("NUM", MeasuredValueSequence=[measured])
    ds.ContentSequence = [text, middle, number]
    return ds


def unknown_un() -> Dataset:
    """A public tag the data dictionary does not know, read as UN, holding text."""
    ds = base("Quarrington^Philomena")
    ds.add_new(0x00089999, "UN", b"Quarrington MRN-884422 ")
    return ds


def retrieve_url() -> Dataset:
    """A UR value holding the MRN and the name."""
    ds = base("Quarrington^Philomena")
    ds.RetrieveURL = f"https://pacs.example.org/wado?patient={MRN}&name=Quarrington"
    return ds


def unlisted_dates() -> Dataset:
    """Dates outside Table E.1-1, one glued into a DT value with its time."""
    ds = base("Quarrington^Philomena")
    ds.SecondaryReviewDate = "20230316"
    ds.ExpirationDateTime = "20230314101530.5+0100"
    ds.AcquisitionDateTime = "20230314101530"
    return ds


def unlisted_uids() -> Dataset:
    """Instance UIDs outside the table, one nested two sequences deep."""
    ds = base("Quarrington^Philomena", n=2)
    ds.MultiFrameSourceSOPInstanceUID = f"{ROOT}.1.1.1"
    ds.SOPInstanceUIDOfConcatenationSource = f"{ROOT}.1.1.77"
    inner = Dataset()
    inner.TargetFrameOfReferenceUID = f"{ROOT}.1.9.5"
    inner.ReferencedSOPClassUID = CT
    outer = Dataset()
    outer.DerivationImageSequence = [Dataset()]
    outer.DerivationImageSequence[0].SourceImageSequence = [inner]
    ds.SharedFunctionalGroupsSequence = [outer]
    return ds


def described(name: str, description: str, charset: str = "ISO_IR 192") -> Callable[[], Dataset]:
    """A name in PatientName and spelled otherwise in the series description."""

    def build() -> Dataset:
        ds = base(name, charset)
        ds.SeriesDescription = description
        request = Dataset()
        request.RequestedProcedureDescription = description
        ds.RequestAttributesSequence = [request]  # nested: inherits the character set
        # Kept under Clean Structured Content, cleaned in the inherited character set.
        ds.AcquisitionContextSequence = [_item("TEXT", TextValue=f"{description} ")]
        return ds

    return build


CASES: tuple[Case, ...] = (
    Case(
        "sr-tree",
        "sr-free-text",
        sr_tree,
        ("Griselda", "7946 0958", "12 Lantern Row", MRN, "2023-03-14"),
    ),
    Case("unknown-un", "unlisted", unknown_un, (MRN, "Quarrington")),
    Case("retrieve-url", "unlisted", retrieve_url, (MRN, "Quarrington")),
    Case("dates-outside-table", "date", unlisted_dates, ("20230316", VISIT)),
    Case(
        "uids-outside-table",
        "uid",
        unlisted_uids,
        (f"{ROOT}.1.1.1", f"{ROOT}.1.1.77", f"{ROOT}.1.9.5"),
    ),
    Case("name-short", "name", described("Li^Bo", "CT Bo LI chest, li-bo"), ("Bo LI", "li-bo")),
    Case(
        "name-hyphen-apostrophe",
        "name",
        described("O'Brien-Smythe^Mary-Kate", "smythe, mary-kate o\u2019brien; MARY KATE OBRIEN"),
        ("smythe, mary-kate o\u2019brien", "MARY KATE OBRIEN"),
    ),
    Case(
        "name-latin1",
        "name",
        described("M\u00fcller^Zo\u00eb", "ZO\u00cb M\u00dcLLER, zoe muller", "ISO_IR 100"),
        ("ZO\u00cb M\u00dcLLER", "zoe muller"),
    ),
    Case(
        "name-gb18030",
        "name",
        described("\u738b^\u5c0f\u6771", "\u738b\u5c0f\u6771 \u80f8\u90e8CT", "GB18030"),
        ("\u738b", "\u5c0f\u6771"),
    ),
    Case(
        "name-iso2022-ir87",
        "name",
        described(
            "Yamada^Tarou=\u5c71\u7530^\u592a\u90ce=\u3084\u307e\u3060^\u305f\u308d\u3046",
            "\u5c71\u7530\u592a\u90ce CT TAROU YAMADA",
            "\\ISO 2022 IR 87",
        ),
        ("\u5c71\u7530", "\u592a\u90ce", "TAROU YAMADA"),
    ),
    Case(
        "name-iso2022-ir13-ir87",
        "name",
        described(
            "\uff94\uff8f\uff80\uff9e^\uff80\uff9b\uff73=\u5c71\u7530^\u592a\u90ce",
            "\uff94\uff8f\uff80\uff9e CT \u5c71\u7530",
            "ISO 2022 IR 13\\ISO 2022 IR 87",
        ),
        ("\uff94\uff8f\uff80\uff9e", "\u5c71\u7530"),
    ),
    Case(
        "identifiers-in-text",
        "identifier",
        described("Quarrington^Philomena", f"CT {MRN} ACC99172 tel 020 7946 0958"),
        (MRN, "ACC99172", "020 7946 0958"),
    ),
)

VARIANTS = ("explicit", "implicit", "no-preamble")


def write(ds: Dataset, path: Path, variant: str) -> None:
    """Write ``ds`` in one of :data:`VARIANTS`."""
    if variant == "explicit":
        ds.save_as(path, enforce_file_format=True)
    elif variant == "implicit":
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        ds.save_as(path, enforce_file_format=True)
    else:
        del ds.file_meta
        ds.save_as(path, implicit_vr=False, little_endian=True)


_WORD = r"(?<![^\W_]){}(?![^\W_])"
_NO_SPACE = re.compile("[\u3040-\u30ff\u4e00-\u9fff\uff66-\uff9f]")


def present(secret: str, text: str) -> bool:
    """Whether ``secret`` appears in ``text`` (whole token, any case; CJK anywhere).

    Independent of the matcher under test.
    """
    if _NO_SPACE.search(secret):
        return secret in text
    return re.search(_WORD.format(re.escape(secret)), text, re.IGNORECASE) is not None
