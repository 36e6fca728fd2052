"""Attributes outside Table E.1-1, SR free text, and UIDs at any depth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from radcycle.privacy.batch import deidentify_tree, read_manifest
from radcycle.privacy.dicom_deid import deidentify_dataset
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.profile import DeidOptions

from .planting import CASES, CT, MRN, ROOT, base, sr_tree, write


def _deid(ds: Dataset, key: DeidKey, **options: object) -> Dataset:
    return deidentify_dataset(ds, key, DeidOptions(**options)).dataset  # type: ignore[arg-type]


def _value_types(items: list[Dataset]) -> list[object]:
    found: list[object] = []
    for item in items:
        found.append(item.ValueType)
        if "ContentSequence" in item:
            found.append(_value_types(item.ContentSequence))
    return found


def test_sr_free_text_removed_at_any_depth_structure_kept(key: DeidKey) -> None:
    basic = _deid(sr_tree(), key)
    assert _value_types(basic.ContentSequence) == ["CONTAINER", [], "NUM"]
    number = basic.ContentSequence[1].MeasuredValueSequence[0]
    assert number.NumericValue == 12.5
    assert number.MeasurementUnitsCodeSequence[0].CodeValue == "mm"
    clean = _deid(sr_tree(), key, clean_structured=True)
    assert _value_types(clean.ContentSequence) == ["TEXT", "CONTAINER", ["TEXT"], "NUM"]
    first, deepest = clean.ContentSequence[0], clean.ContentSequence[1].ContentSequence[0]
    assert (
        first.TextValue == "Aunt ******************** called from ****************, **************"
    )
    assert deepest.TextValue == "********** seen **********"


def test_unlisted_attributes_kept_only_when_safe(key: DeidKey) -> None:
    ds = base("Quarrington^Philomena")
    ds.KVP = "120"
    ds.ManufacturerRelatedModelGroup = "ward 7 scanner"
    ds.SecondaryReviewerName = "Oyelaran^Theodora"
    ds.add_new(0x00089999, "UN", b"MRN-884422")
    ds.RetrieveURL = f"https://pacs/wado?patient={MRN}"
    out = _deid(ds, key)
    assert out.KVP == 120
    assert out.Manufacturer == "ACME"
    assert out.PixelSpacing == [0.5, 0.5]
    assert out.PixelData == bytes(range(32))
    for keyword in ("ManufacturerRelatedModelGroup", "SecondaryReviewerName", "RetrieveURL"):
        assert keyword not in out
    assert 0x00089999 not in out


@pytest.mark.parametrize(
    ("dates", "expected_date", "expected_time"),
    [("remove", None, None), ("full", "20230316", "093000"), ("modified", "shift", "093000")],
)
def test_dates_outside_the_table_follow_the_longitudinal_option(
    key: DeidKey, dates: str, expected_date: str | None, expected_time: str | None
) -> None:
    ds = base("Quarrington^Philomena")
    ds.SecondaryReviewDate, ds.SecondaryReviewTime = "20230316", "093000"
    ds.ExpirationDateTime = "20230316101530+0100"
    out = _deid(ds, key, dates=dates)
    if expected_date == "shift":
        moved = dt.date(2023, 3, 16) + dt.timedelta(days=key.day_shift(MRN))
        expected_date = moved.strftime("%Y%m%d")
        assert out.ExpirationDateTime == expected_date + "101530+0100"
    assert out.get("SecondaryReviewDate") == expected_date
    assert out.get("SecondaryReviewTime") == expected_time


def test_uids_everywhere_remapped_consistently_classes_kept(tmp_path: Path, key: DeidKey) -> None:
    src = tmp_path / "in"
    src.mkdir()
    first = base("Quarrington^Philomena", n=1)
    write(first, src / "a.dcm", "explicit")
    second = next(c for c in CASES if c.id == "uids-outside-table").build()
    second.FrameOfReferenceUID = "1.2.840.10008.1.4.1.1"  # Talairach: defined by the standard
    write(second, src / "b.dcm", "implicit")
    out = tmp_path / "out"
    deidentify_tree(src, out, key, DeidOptions(), workers=1)
    by_source = {r.source: pydicom.dcmread(out / r.output) for r in read_manifest(out, key)}
    a, b = by_source["a.dcm"], by_source["b.dcm"]
    assert b.MultiFrameSourceSOPInstanceUID == a.SOPInstanceUID == key.uid(f"{ROOT}.1.1.1")
    assert b.SOPInstanceUIDOfConcatenationSource == key.uid(f"{ROOT}.1.1.77")
    inner = b.SharedFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    assert inner.TargetFrameOfReferenceUID == key.uid(f"{ROOT}.1.9.5")
    assert inner.ReferencedSOPClassUID == CT
    assert b.FrameOfReferenceUID == "1.2.840.10008.1.4.1.1"
    kept = deidentify_dataset(
        next(c for c in CASES if c.id == "uids-outside-table").build(),
        key,
        DeidOptions(retain_uids=True),
    ).dataset
    assert kept.MultiFrameSourceSOPInstanceUID == f"{ROOT}.1.1.1"


def test_planted_cases_rerun_byte_identical(tmp_path: Path, key: DeidKey) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for index, case in enumerate(CASES):
        write(case.build(), src / f"{index}.dcm", ("explicit", "implicit")[index % 2])
    options = DeidOptions(dates="modified", clean_descriptors=True, clean_structured=True)
    deidentify_tree(src, tmp_path / "a", key, options, workers=1)
    deidentify_tree(src, tmp_path / "b", key, options, workers=2)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.dcm"))
    assert len(files) == len(CASES)
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
