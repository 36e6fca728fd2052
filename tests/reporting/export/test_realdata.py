"""SEG and SR of a real lung CT (IBSI 1 CT phantom PAT1, its GTV-1 outline): valid, read back."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydicom
import pytest

from radcycle.domain.facts import Lesion
from radcycle.domain.measurement import Measurement
from radcycle.domain.provenance import AlgorithmRecord
from radcycle.imaging.measurement import measure_mask
from radcycle.io import read_image
from radcycle.io.dicom.rtstruct import read_rtstruct
from radcycle.io.dicom.seg import read_seg
from radcycle.reporting.export.seg import LesionSegment, write_seg
from radcycle.reporting.export.sr import write_sr
from tests.reporting.export.conftest import dciodvfy_errors

pytestmark = pytest.mark.realdata


def test_pat1_gtv_round_trips_and_validates(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import highdicom as hd

    root = shared_data / "ibsi" / "ibsi_1_ct_radiomics_phantom" / "dicom"
    volume = read_image(root / "image")
    mask = read_rtstruct(next((root / "mask").glob("*.dcm")), volume)["GTV-1"].array
    datasets = [pydicom.dcmread(p) for p in sorted((root / "image").glob("*.dcm"))]
    size = measure_mask(volume, mask)
    algorithm = AlgorithmRecord("radcycle.measure", "1")
    lesion = Lesion(
        "L1",
        "2.25.42",
        organ="lung",
        kind="solid",
        measurements=tuple(
            Measurement(
                name=name,
                value=value,
                unit=unit,
                tracking_identifier="L1",
                tracking_uid="2.25.42",
                time_point="PAT1",
                image=None,
                algorithm=algorithm,
            )
            for name, value, unit in (
                ("long_axis", size.long_axis_mm, "mm"),
                ("short_axis", size.short_axis_mm, "mm"),
                ("volume", size.volume_mm3, "mm3"),
            )
        ),
    )
    with caplog.at_level(logging.WARNING):
        seg = write_seg(tmp_path / "seg.dcm", [LesionSegment(lesion, mask)], datasets)
        write_sr(tmp_path / "sr.dcm", [lesion], datasets, time_point="PAT1", seg=seg)
    # the source's one-component PatientName is reported, not raised
    assert any("person name" in r.getMessage() for r in caplog.records)
    assert np.array_equal(read_seg(tmp_path / "seg.dcm", reference=volume)["L1"].array, mask)
    (group,) = hd.sr.srread(tmp_path / "sr.dcm").content.get_volumetric_roi_measurement_groups()
    assert group.tracking_uid == "2.25.42"
    assert sorted(m.value for m in group.get_measurements()) == pytest.approx(
        sorted([size.long_axis_mm, size.short_axis_mm, size.volume_mm3])
    )
    assert dciodvfy_errors(tmp_path / "seg.dcm") == []
    assert dciodvfy_errors(tmp_path / "sr.dcm") == []
