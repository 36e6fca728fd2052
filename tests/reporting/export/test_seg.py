"""DICOM SEG export: written, read back through highdicom and radcycle, validated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radcycle.errors import ExportError, InputError
from radcycle.io.dicom.seg import read_seg
from radcycle.reporting.export.codes import DRAFT_NOTICE
from radcycle.reporting.export.seg import LesionSegment, write_seg
from tests.reporting.export.conftest import Patient, dciodvfy_errors


def _masks(patient: Patient, t: int) -> list[LesionSegment]:
    tp = patient.timepoints[t]
    return [
        LesionSegment(les, tp.masks[les.tracking_uid])
        for les in patient.lesions
        if les.tracking_uid in tp.masks
    ]


@pytest.fixture(scope="module")
def seg_file(patient: Patient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seg") / "seg.dcm"
    write_seg(path, _masks(patient, 1), patient.timepoints[1].datasets)
    return path


def test_segments_are_the_lesions_labelled_with_tracking_ids(
    patient: Patient, seg_file: Path
) -> None:
    import highdicom as hd

    seg = hd.seg.segread(str(seg_file))
    masks = _masks(patient, 1)
    assert [str(s.SegmentLabel) for s in seg.SegmentSequence] == [
        m.lesion.tracking_identifier for m in masks
    ]
    assert [str(s.TrackingUID) for s in seg.SegmentSequence] == [
        m.lesion.tracking_uid for m in masks
    ]
    assert seg.ContentDescription == DRAFT_NOTICE
    assert seg.SeriesDescription == DRAFT_NOTICE
    assert seg.FrameOfReferenceUID == patient.timepoints[1].datasets[0].FrameOfReferenceUID


def test_masks_read_back_voxel_for_voxel_on_the_source_grid(
    patient: Patient, seg_file: Path
) -> None:
    tp = patient.timepoints[1]
    read = read_seg(seg_file, reference=tp.volume)
    for m in _masks(patient, 1):
        back = read[m.lesion.tracking_identifier].array
        assert back.shape == m.mask.shape
        assert np.array_equal(back, m.mask), m.lesion.tracking_identifier


def test_dciodvfy_finds_no_error(seg_file: Path) -> None:
    assert dciodvfy_errors(seg_file) == []


def test_existing_output_is_kept_without_force(patient: Patient, seg_file: Path) -> None:
    before = seg_file.read_bytes()
    with pytest.raises(ExportError, match="exists"):
        write_seg(seg_file, _masks(patient, 1), patient.timepoints[1].datasets)
    assert seg_file.read_bytes() == before


def test_mask_off_the_grid_is_refused(patient: Patient, tmp_path: Path) -> None:
    les = patient.lesions[0]
    bad = LesionSegment(les, np.ones((3, 4, 5), dtype=bool))
    with pytest.raises(InputError, match="not on the source grid"):
        write_seg(tmp_path / "seg.dcm", [bad], patient.timepoints[0].datasets)
    assert list(tmp_path.iterdir()) == []


def test_empty_mask_and_mixed_series_are_refused(patient: Patient, tmp_path: Path) -> None:
    tp = patient.timepoints[0]
    empty = LesionSegment(patient.lesions[0], np.zeros_like(tp.volume.array, dtype=bool))
    with pytest.raises(InputError, match="empty"):
        write_seg(tmp_path / "a.dcm", [empty], tp.datasets)
    mixed = [*tp.datasets, patient.timepoints[1].datasets[0]]
    with pytest.raises(InputError, match="one series"):
        write_seg(tmp_path / "b.dcm", _masks(patient, 0), mixed)
