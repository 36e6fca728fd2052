"""Options and special cases: burned-in text, ultrasound cleaning, safe private, UIDs."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from radcycle.privacy.check import Needles, check_dataset
from radcycle.privacy.dicom_deid import deidentify_dataset
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.profile import DeidOptions

from .conftest import ALICE, ct_slice

US = "1.2.840.10008.5.1.4.1.1.6.1"
SC = "1.2.840.10008.5.1.4.1.1.7"


def _ultrasound() -> Dataset:
    ds = ct_slice(ALICE, 0)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = US
    ds.Modality = "US"
    ds.Rows = ds.Columns = 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.full((16, 16), 200, dtype=np.uint8).tobytes()
    region = Dataset()
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 4, 2
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = 11, 13
    ds.SequenceOfUltrasoundRegions = [region]
    return ds


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"BurnedInAnnotation": "YES"}, "BurnedInAnnotation is YES"),
        ({"SOPClassUID": SC}, "secondary capture"),
        ({"Modality": "XC"}, "photographic"),
        ({"RecognizableVisualFeatures": "YES"}, "RecognizableVisualFeatures"),
    ],
)
def test_burned_in_candidates_are_quarantined(
    key: DeidKey, change: dict[str, str], reason: str
) -> None:
    ds = ct_slice(ALICE, 0)
    for keyword, value in change.items():
        setattr(ds, keyword, value)
    result = deidentify_dataset(ds, key, DeidOptions())
    assert result.quarantine_reason is not None
    assert reason in result.quarantine_reason


def test_plain_ct_and_declared_clean_images_pass(key: DeidKey) -> None:
    assert deidentify_dataset(ct_slice(ALICE, 0), key, DeidOptions()).quarantine_reason is None
    sc = ct_slice(ALICE, 1)
    sc.SOPClassUID, sc.BurnedInAnnotation = SC, "NO"
    assert deidentify_dataset(sc, key, DeidOptions()).quarantine_reason is None


def test_ultrasound_cleaned_outside_regions(key: DeidKey) -> None:
    quarantined = deidentify_dataset(_ultrasound(), key, DeidOptions())
    assert quarantined.quarantine_reason is not None
    assert "ultrasound" in quarantined.quarantine_reason
    cleaned = deidentify_dataset(_ultrasound(), key, DeidOptions(clean_pixel_data=True))
    assert cleaned.quarantine_reason is None
    pixels = cleaned.dataset.pixel_array
    assert (pixels[2:14, 4:12] == 200).all()
    assert pixels.sum() == 200 * 12 * 8
    codes = [i.CodeValue for i in cleaned.dataset.DeidentificationMethodCodeSequence]
    assert "113101" in codes
    # Text inside a region cannot be found without reading it: other images stay quarantined.
    sc = ct_slice(ALICE, 0)
    sc.SOPClassUID = SC
    still = deidentify_dataset(sc, key, DeidOptions(clean_pixel_data=True))
    assert still.quarantine_reason is not None
    assert "cannot locate" in still.quarantine_reason


def test_retain_safe_private_keeps_only_the_safe_list(key: DeidKey) -> None:
    ds = ct_slice(ALICE, 0)
    block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
    block.add_new(0x0C, "IS", "1000")  # B_value: safe
    block.add_new(0x10, "LO", ALICE.name)  # not safe
    kept = deidentify_dataset(ds, key, DeidOptions(retain_safe_private=True)).dataset
    private = {int(e.tag): e.value for e in kept if e.tag.is_private}
    assert private.get(0x0019100C) == "1000"
    assert 0x00191010 not in private
    assert all(e.tag.group != 0x0011 for e in kept)
    assert check_dataset(kept, "x", Needles()) == []
    removed = deidentify_dataset(ct_slice(ALICE, 0), key, DeidOptions()).dataset
    assert not any(e.tag.is_private for e in removed)


def test_retain_uids_and_device_and_patient_characteristics(key: DeidKey) -> None:
    ds = ct_slice(ALICE, 0)
    ds.DeviceSerialNumber = "SN-4471"
    original_uid = ds.SOPInstanceUID
    options = DeidOptions(retain_uids=True, retain_device=True, retain_patient_chars=True)
    out = deidentify_dataset(ds, key, options).dataset
    assert out.SOPInstanceUID == original_uid
    assert out.DeviceSerialNumber == "SN-4471"
    assert out.PatientAge == "062Y"
    assert out.PatientSex == "F"
    plain = deidentify_dataset(ct_slice(ALICE, 0), key, DeidOptions()).dataset
    assert plain.SOPInstanceUID == key.uid(original_uid)
    assert "PatientAge" not in plain
    assert plain.PatientSex == ""


def test_checker_reports_profile_violations() -> None:
    ds = ct_slice(ALICE, 0)
    ds.PatientIdentityRemoved = "YES"
    kinds = {(leak.kind, leak.path) for leak in check_dataset(ds, "x", Needles())}
    assert ("profile-X", "(0008,103E)") in kinds  # Series Description
    assert ("profile-Z", "(0008,0050)") in kinds  # Accession Number
    assert ("private", "(0011,1010)") in kinds
    assert ("curve-overlay", "(6000,3000)") in kinds
