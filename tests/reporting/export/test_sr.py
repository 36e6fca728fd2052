"""DICOM SR TID 1500 export: written, read back through highdicom, validated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from radcycle.domain.measurement import MEASURED
from radcycle.errors import ExportError, InputError
from radcycle.reporting.export.codes import DRAFT_NOTICE, MEASUREMENT_CODES
from radcycle.reporting.export.seg import LesionSegment, write_seg
from radcycle.reporting.export.sr import write_sr
from tests.reporting.export.conftest import Patient, dciodvfy_errors


def _write(patient: Patient, t: int, folder: Path) -> tuple[Path, Dataset]:
    tp = patient.timepoints[t]
    masks = [
        LesionSegment(les, tp.masks[les.tracking_uid])
        for les in patient.lesions
        if les.tracking_uid in tp.masks
    ]
    seg = write_seg(folder / "seg.dcm", masks, tp.datasets)
    write_sr(
        folder / "sr.dcm",
        patient.lesions,
        tp.datasets,
        time_point=tp.label,
        seg=seg,
        evaluations=patient.facts,
    )
    return folder / "sr.dcm", seg


@pytest.fixture(scope="module")
def written(
    patient: Patient, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[Path, Dataset]]:
    return [_write(patient, t, tmp_path_factory.mktemp(f"tp{t}")) for t in range(2)]


def _report(path: Path) -> Any:
    import highdicom as hd

    return hd.sr.srread(path)


@pytest.mark.parametrize("t", [0, 1])
def test_every_measurement_reads_back_with_its_lesion_and_segment(
    patient: Patient, written: list[tuple[Path, Dataset]], t: int
) -> None:
    path, seg = written[t]
    sr = _report(path)
    tp = patient.timepoints[t]
    groups = sr.content.get_volumetric_roi_measurement_groups()
    by_uid = {str(g.tracking_uid): g for g in groups}
    expected = [les for les in patient.lesions if les.tracking_uid in tp.masks]
    assert set(by_uid) == {les.tracking_uid for les in expected}
    numbers = {str(s.TrackingUID): int(s.SegmentNumber) for s in seg.SegmentSequence}
    for les in expected:
        group = by_uid[les.tracking_uid]
        assert group.tracking_identifier == les.tracking_identifier
        ref = group.referenced_segment
        assert ref.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert ref.referenced_segment_numbers == [numbers[les.tracking_uid]]
        for m in les.at(tp.label):
            assert m.status == MEASURED, les.tracking_identifier
            concept = MEASUREMENT_CODES[m.name.value]
            found = group.get_measurements(name=_code(concept))
            assert len(found) == 1, (les.tracking_identifier, m.name)
            assert found[0].value == pytest.approx(m.value, abs=1e-6)
            assert found[0].unit.value == m.unit
            sources = {r.referenced_sop_instance_uid for r in found[0].referenced_images}
            assert m.image is not None
            assert sources == set(m.image.sop_instance_uids)


def _code(concept: Any) -> Any:
    from pydicom.sr.coding import Code

    return Code(concept.value, concept.scheme, concept.meaning)


def test_finding_site_laterality_and_draft_flags(
    patient: Patient, written: list[tuple[Path, Dataset]]
) -> None:
    sr = _report(written[0][0])
    assert sr.CompletionFlag == "PARTIAL"
    assert sr.VerificationFlag == "UNVERIFIED"
    assert sr.SeriesDescription == DRAFT_NOTICE
    group = sr.content.get_volumetric_roi_measurement_groups(tracking_uid="2.25.1001")[0]
    les = next(x for x in patient.lesions if x.tracking_uid == "2.25.1001")
    site = group.finding_sites[0]
    assert (
        site.value.value
        == {
            "RLL": "90572001",
            "RUL": "45653009",
            "LLL": "90572001",
            "LUL": "45653009",
            "RML": "72481006",
        }[str(les.lobe)]
    )
    side = site.laterality.value
    assert side == ("24028007" if les.laterality == "right" else "7771000")


def test_a_lesion_gone_says_so_without_a_number(
    patient: Patient, written: list[tuple[Path, Dataset]]
) -> None:
    tp = patient.timepoints[1]
    gone = [les for les in patient.lesions if les.at(tp.label) and les.tracking_uid not in tp.masks]
    assert gone  # the synthetic story has a nodule vanish at the first follow-up
    sr = _report(written[1][0])
    for les in gone:
        (group,) = sr.content.get_image_measurement_groups(tracking_uid=les.tracking_uid)
        assert group.get_measurements() == []
        values = {(e.name.value, e.value.value) for e in group.get_qualitative_evaluations()}
        assert ("MSTATUS", "DISAPPEARED") in values


def test_lung_rads_and_recist_evaluations(written: list[tuple[Path, Dataset]]) -> None:
    first = _report(written[0][0])
    l1 = first.content.get_volumetric_roi_measurement_groups(tracking_uid="2.25.1001")[0]
    values = {(e.name.value, e.value.value) for e in l1.get_qualitative_evaluations()}
    assert ("1362105002", "LR-4B") in values  # SNOMED CT Lung-RADS category, private value
    assert ("NODTYPE", "SOLID") in values
    second = _report(written[1][0])
    (response,) = [
        g
        for g in second.content.get_image_measurement_groups()
        if g.tracking_identifier == "RECIST 1.1 response"
    ]
    values = {(e.name.value, e.value.value) for e in response.get_qualitative_evaluations()}
    assert values == {
        ("112021", "126081"),  # Response Evaluation Method: RECIST 1.1
        ("112048", "112042"),  # Current Response: Target Lesion Partial Response
        ("112048", "OR-PR"),  # Current Response: overall PR (private value)
        ("112049", "OR-PR"),  # Best Overall Response (private value)
    }
    names = {g.tracking_identifier for g in first.content.get_image_measurement_groups()}
    assert "RECIST 1.1 response" not in names  # no response fact at the baseline


@pytest.mark.parametrize("t", [0, 1])
def test_dciodvfy_finds_no_error(written: list[tuple[Path, Dataset]], t: int) -> None:
    assert dciodvfy_errors(written[t][0]) == []


def test_without_seg_groups_are_tid_1501(patient: Patient, tmp_path: Path) -> None:
    tp = patient.timepoints[0]
    write_sr(tmp_path / "sr.dcm", patient.lesions, tp.datasets, time_point=tp.label)
    sr = _report(tmp_path / "sr.dcm")
    assert not sr.content.get_volumetric_roi_measurement_groups()
    uids = {str(g.tracking_uid) for g in sr.content.get_image_measurement_groups()}
    assert uids == {les.tracking_uid for les in patient.lesions if les.at(tp.label)}


def test_refusals(patient: Patient, written: list[tuple[Path, Dataset]], tmp_path: Path) -> None:
    tp = patient.timepoints[0]
    with pytest.raises(ExportError, match="exists"):
        write_sr(written[0][0], patient.lesions, tp.datasets, time_point=tp.label)
    with pytest.raises(InputError, match="no lesion"):
        write_sr(tmp_path / "x.dcm", patient.lesions, tp.datasets, time_point="1999-01-01")
    assert list(tmp_path.iterdir()) == []


def test_every_measurement_name_and_a_node_write_and_validate(
    patient: Patient, tmp_path: Path
) -> None:
    from radcycle.domain.facts import Lesion
    from radcycle.domain.measurement import Measurement, MeasurementName

    tp = patient.timepoints[0]
    template = patient.lesions[0].at(tp.label)[0]
    values = {name: 10.0 + n for n, name in enumerate(MeasurementName)}
    node = Lesion(
        "N1",
        "2.25.77",
        organ="mediastinal lymph node",
        kind="lymph node",
        measurements=tuple(
            Measurement(
                name=name,
                value=value,
                unit=name.unit,
                tracking_identifier="N1",
                tracking_uid="2.25.77",
                time_point=tp.label,
                image=template.image,
                algorithm=template.algorithm,
            )
            for name, value in values.items()
        ),
    )
    mask = next(iter(tp.masks.values()))
    seg = write_seg(tmp_path / "seg.dcm", [LesionSegment(node, mask)], tp.datasets)
    write_sr(tmp_path / "sr.dcm", [node], tp.datasets, time_point=tp.label, seg=seg)
    (group,) = _report(tmp_path / "sr.dcm").content.get_volumetric_roi_measurement_groups()
    assert group.finding_type.value == "52988006"  # Lesion, not Nodule
    assert group.finding_sites[0].value.value == "62683002"  # mediastinal lymph node
    for name, value in values.items():
        (found,) = group.get_measurements(name=_code(MEASUREMENT_CODES[name.value]))
        assert found.value == pytest.approx(value)
        assert found.unit.value == name.unit
    assert dciodvfy_errors(tmp_path / "sr.dcm") == []
    assert dciodvfy_errors(tmp_path / "seg.dcm") == []
