"""DICOM SR Comprehensive 3D, TID 1500 Measurement Report, one per time point.

The mapping is direct; nothing is parsed from text:

* one measurement group per lesion (TID 1411 Volumetric ROI where the lesion has
  a segment in the time point's SEG, referenced by SOP instance and segment
  number; TID 1501 otherwise), with TID 4108 TrackingIdentifier (``L1``) and
  TrackingUniqueIdentifier, TID 1502 time point context, finding type and
  finding site with laterality (SNOMED CT), and TID 4019 algorithm identification;
* its :class:`~radcycle.domain.measurement.Measurement` records as TID 300
  measurements (long axis, short axis, volume ... with UCUM units), each with the
  source images it was measured on (TID 320 source image for measurement);
  a measurement without a value (gone, too small) has no place in TID 300: its
  status is given as a qualitative evaluation instead;
* qualitative evaluations: the nodule type, the lesion's Lung-RADS v2022 category,
  and a TID 1501 group for the patient's RECIST 1.1 response (method DCM 126081
  RECIST 1.1; DCM 112048 Current Response with the target and non-target
  responses of DICOM CID 6144 and the overall response; DCM 112049 Best Overall
  Response). The overall and best responses' values, and the Lung-RADS category
  values, have no standard code: they are in radcycle's private scheme (see
  :mod:`radcycle.reporting.export.codes`).

The SR is written PARTIAL and UNVERIFIED, and its SeriesDescription says
:data:`~radcycle.reporting.export.codes.DRAFT_NOTICE`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from radcycle.domain.facts import Fact, Lesion
from radcycle.domain.measurement import MEASURED, Measurement
from radcycle.domain.provenance import AlgorithmRecord
from radcycle.errors import ExportError, InputError
from radcycle.reporting.export import codes as c
from radcycle.reporting.export.dicom_common import (
    MANUFACTURER,
    build_logging_warnings,
    declare_local_scheme,
    hd_code,
    save,
    software_version,
    sorted_series,
)
from radcycle.reporting.export.output import export

log = logging.getLogger(__name__)

__all__ = ["SR_SERIES_NUMBER", "build_sr", "write_sr"]

SR_SERIES_NUMBER = 9002


def _algorithm(record: AlgorithmRecord) -> Any:
    import highdicom as hd

    params = [f"{k}={v}" for k, v in record.parameters.items()] or None
    return hd.sr.AlgorithmIdentification(
        name=record.name, version=record.version, parameters=params
    )


def _measurement(m: Measurement, by_uid: dict[str, Dataset]) -> Any:
    import highdicom as hd

    refs = []
    if m.image is not None:
        refs = [
            hd.sr.SourceImageForMeasurement.from_source_image(by_uid[uid])
            for uid in m.image.sop_instance_uids
            if uid in by_uid
        ]
    derivation = c.MEASUREMENT_DERIVATIONS.get(m.name.value)
    return hd.sr.Measurement(
        name=hd_code(c.MEASUREMENT_CODES[m.name.value]),
        value=float(m.value) if m.value is not None else math.nan,
        unit=hd.sr.CodedConcept(value=m.unit, scheme_designator="UCUM", meaning=m.unit),
        tracking_identifier=None,
        algorithm_id=_algorithm(m.algorithm),
        derivation=None if derivation is None else hd_code(derivation),
        referenced_images=refs or None,
    )


def _evaluation(name: c.Concept, value: c.Concept) -> Any:
    import highdicom as hd

    return hd.sr.QualitativeEvaluation(name=hd_code(name), value=hd_code(value))


def _is_guideline(fact: Fact, guideline: str) -> bool:
    rule = fact.provenance.rule
    words = f"{fact.name} {rule.guideline if rule else ''}".lower().replace("-", "_")
    return guideline in words


def _lesion_evaluations(lesion: Lesion, time_point: str, facts: Sequence[Fact]) -> list[Any]:
    out = []
    # a measurement without a value (gone, too small) says why, as TID 300 cannot
    for status in dict.fromkeys(m.status for m in lesion.at(time_point)):
        if status != MEASURED:
            code = status.upper().replace(" ", "-")[:16]
            out.append(_evaluation(c.MEASUREMENT_STATUS, c.local_concept(code, status)))
    if lesion.kind:
        out.append(
            _evaluation(c.NODULE_TYPE, c.local_concept(lesion.kind.upper()[:16], lesion.kind))
        )
    for fact in facts:
        if fact.tracking_uid == lesion.tracking_uid and _is_guideline(fact, "lung_rads"):
            category = str(fact.value)
            out.append(_evaluation(c.LUNG_RADS_CATEGORY, c.lung_rads_value(category)))
    return out


def _tracking(identifier: str, uid: str) -> Any:
    import highdicom as hd

    return hd.sr.TrackingIdentifier(uid=uid, identifier=identifier)


def _lesion_group(
    lesion: Lesion,
    time_point: str,
    segments: dict[str, int],
    seg: Dataset | None,
    context: tuple[dict[str, Dataset], Sequence[Fact]],
) -> Any:
    import highdicom as hd

    by_uid, facts = context
    measured = [m for m in lesion.at(time_point) if m.status == MEASURED]
    site, side = c.site_codes(lesion.organ, lesion.laterality, lesion.lobe)
    common: dict[str, Any] = {
        "tracking_identifier": _tracking(lesion.tracking_identifier, lesion.tracking_uid),
        "time_point_context": hd.sr.TimePointContext(time_point=time_point),
        "finding_type": hd_code(c.finding_type(lesion.organ, lesion.kind)),
        "finding_sites": [
            hd.sr.FindingSite(
                anatomic_location=hd_code(site), laterality=None if side is None else hd_code(side)
            )
        ],
        "measurements": [_measurement(m, by_uid) for m in measured] or None,
        "qualitative_evaluations": _lesion_evaluations(lesion, time_point, facts) or None,
    }
    if measured:
        common["algorithm_id"] = _algorithm(measured[0].algorithm)
    number = segments.get(lesion.tracking_uid)
    if seg is not None and number is not None:
        return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            referenced_segment=_segment_reference(seg, number), **common
        )
    return hd.sr.MeasurementsAndQualitativeEvaluations(**common)


def _segment_reference(seg: Dataset, number: int) -> Any:
    """The segment and its source series (built here: highdicom's ``from_segmentation``
    expects per-frame segment identification, which a one-segment SEG keeps shared)."""
    import highdicom as hd

    return hd.sr.ReferencedSegment(
        sop_class_uid=str(seg.SOPClassUID),
        sop_instance_uid=str(seg.SOPInstanceUID),
        segment_number=number,
        source_series=hd.sr.SourceSeriesForSegmentation(
            str(seg.ReferencedSeriesSequence[0].SeriesInstanceUID)
        ),
    )


def _response_part(fact: Fact) -> str:
    name = fact.name.lower().replace("-", "_")
    if "non_target" in name or "nontarget" in name:
        return "non_target"
    return "target" if "target" in name else "overall"


def _response_group(facts: Sequence[Fact], time_point: str, uid: str) -> Any | None:
    import highdicom as hd

    evaluations = [_evaluation(c.RESPONSE_EVALUATION_METHOD, c.RECIST_1_1)]
    for fact in facts:
        if fact.tracking_uid is not None or not _is_guideline(fact, "recist"):
            continue
        part, category = _response_part(fact), str(fact.value)
        concept = c.RECIST_RESPONSE_CODES.get((part, category))
        if fact.name == "best_overall_response":
            evaluations.append(_evaluation(c.BEST_OVERALL_RESPONSE, c.response_value(category)))
        elif part == "overall":
            evaluations.append(_evaluation(c.CURRENT_RESPONSE, c.response_value(category)))
        elif concept is not None:
            evaluations.append(_evaluation(c.CURRENT_RESPONSE, concept))
    if len(evaluations) == 1:
        return None
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking("RECIST 1.1 response", uid),
        time_point_context=hd.sr.TimePointContext(time_point=time_point),
        qualitative_evaluations=evaluations,
    )


def _segment_numbers(seg: Dataset | None) -> dict[str, int]:
    if seg is None:
        return {}
    return {
        str(s.TrackingUID): int(s.SegmentNumber) for s in seg.SegmentSequence if "TrackingUID" in s
    }


def _observer() -> Any:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=generate_uid(entropy_srcs=[MANUFACTURER, software_version()]),
        name=MANUFACTURER,
        manufacturer_name=MANUFACTURER,
        model_name=MANUFACTURER,
    )
    return hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device, observer_identifying_attributes=device
        )
    )


def build_sr(
    lesions: Sequence[Lesion],
    source_datasets: Sequence[Dataset],
    *,
    time_point: str,
    seg: Dataset | None = None,
    evaluations: Sequence[Fact] = (),
) -> Dataset:
    """The SR dataset (not written) of one time point; see :func:`write_sr`."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    slices = sorted_series(source_datasets)
    present = [les for les in lesions if les.at(time_point)]
    if not present:
        raise InputError("no lesion has a measurement at this time point", value=time_point)
    by_uid = {str(ds.SOPInstanceUID): ds for ds in slices}
    facts = [f for f in evaluations if f.time_point in (None, time_point)]
    segments = _segment_numbers(seg)
    groups = [_lesion_group(les, time_point, segments, seg, (by_uid, facts)) for les in present]
    response = _response_group(facts, time_point, generate_uid())
    if response is not None:
        groups.append(response)
    try:
        report = hd.sr.MeasurementReport(
            observation_context=_observer(),
            procedure_reported=codes.SCT.ImagingProcedure,
            imaging_measurements=groups,
        )
        sr = build_logging_warnings(
            lambda: hd.sr.Comprehensive3DSR(
                evidence=[*slices, *([seg] if seg is not None else [])],
                content=report,
                series_instance_uid=hd.UID(),
                series_number=SR_SERIES_NUMBER,
                sop_instance_uid=hd.UID(),
                instance_number=1,
                manufacturer=MANUFACTURER,
                is_complete=False,
                is_final=False,
                is_verified=False,
            )
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise ExportError(f"cannot build the DICOM SR: {exc}") from exc
    sr.SeriesDescription = c.DRAFT_NOTICE
    declare_local_scheme(sr)
    return sr


def write_sr(
    path: str | Path,
    lesions: Sequence[Lesion],
    source_datasets: Sequence[Dataset],
    *,
    time_point: str,
    seg: Dataset | None = None,
    evaluations: Sequence[Fact] = (),
    force: bool = False,
) -> Dataset:
    """Write the TID 1500 measurement report of one time point.

    Args:
        path: the ``.dcm`` file to write (its folder must exist).
        lesions: the tracked lesions; those with measurements at ``time_point``
            become measurement groups.
        source_datasets: the source image series of that time point.
        time_point: the time point (as in :attr:`Measurement.time_point`).
        seg: that time point's SEG (from
            :func:`~radcycle.reporting.export.seg.write_seg`); each lesion's
            group refers to the segment with its TrackingUID.
        evaluations: guideline facts (RECIST 1.1 response without a tracking UID,
            Lung-RADS category with one), for this time point or none.
        force: replace an existing file.

    Returns:
        The SR dataset written.

    Raises:
        InputError: no lesion measured at ``time_point``, or bad source images.
        ExportError: the file exists (without ``force``) or cannot be written.
    """
    sr = export(
        path,
        force,
        lambda: build_sr(
            lesions, source_datasets, time_point=time_point, seg=seg, evaluations=evaluations
        ),
        save,
    )
    log.info("wrote SR of %s to %s", time_point, path)
    return sr
