"""DICOM SEG of one time point: every lesion one segment, on the source CT series' grid.

Each segment is labelled with the lesion's TrackingIdentifier (``L1``) and carries
its TrackingUID, so the SR of the same time point (and the next study's SEG) can
refer to the same lesion; the segmented property is a Morphologically Abnormal
Structure of type Nodule or Lesion, with the finding site as anatomic region.
The SEG is binary, written through highdicom (which validates it on
construction), with empty frames left out. Its SeriesDescription and
ContentDescription say :data:`~radcycle.reporting.export.codes.DRAFT_NOTICE`.

Example:
    >>> import numpy as np
    >>> from radcycle.domain.facts import Lesion
    >>> mask = LesionSegment(Lesion("L1", "2.25.1"), np.zeros((2, 4, 4), bool))
    >>> mask.lesion.tracking_identifier, mask.mask.shape
    ('L1', (2, 4, 4))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from radcycle.domain.facts import Lesion
from radcycle.domain.provenance import AlgorithmRecord
from radcycle.errors import ExportError, InputError
from radcycle.reporting.export.codes import DRAFT_NOTICE, finding_type, site_codes
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

__all__ = ["SEG_SERIES_NUMBER", "LesionSegment", "build_seg", "write_seg"]

SEG_SERIES_NUMBER = 9001


@dataclass(frozen=True, eq=False)
class LesionSegment:
    """One lesion and its mask on the source series' grid.

    Args:
        lesion: the tracked lesion (its TrackingIdentifier labels the segment).
        mask: boolean array ``[k, j, i]``: ``k`` along the slice normal, as the
            source slices sorted by position (the order ``radcycle.io`` reads them).
    """

    lesion: Lesion
    mask: npt.NDArray[np.bool_]


def _default_algorithm() -> AlgorithmRecord:
    return AlgorithmRecord("radcycle.segment", software_version())


def _stack(
    masks: Sequence[LesionSegment], slices: Sequence[Dataset]
) -> tuple[npt.NDArray[np.uint8], slice]:
    """The masks as one ``[k, j, i, segment]`` array over the slices they occupy, and
    that slice range (the SEG is derived from those source images only: less memory
    and time on a long series, the same voxels)."""
    shape = (len(slices), int(slices[0].Rows), int(slices[0].Columns))
    planes = []
    for item in masks:
        array = np.asarray(item.mask)
        if array.shape != shape:
            raise InputError(
                f"mask of {item.lesion.tracking_identifier} is not on the source grid "
                f"(slices, rows, columns {shape})",
                value=array.shape,
            )
        if not array.any():
            raise InputError(f"mask of {item.lesion.tracking_identifier} is empty")
        planes.append(array.astype(bool))
    occupied = np.flatnonzero(np.any([p.any(axis=(1, 2)) for p in planes], axis=0))
    rows = slice(int(occupied[0]), int(occupied[-1]) + 1)
    return np.stack([p[rows] for p in planes], axis=-1).astype(np.uint8), rows


def _description(number: int, lesion: Lesion, algorithm: AlgorithmRecord) -> Any:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    site, _ = site_codes(lesion.organ, lesion.laterality, lesion.lobe)
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=lesion.tracking_identifier,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=hd_code(finding_type(lesion.organ, lesion.kind)),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name=algorithm.name,
            family=codes.cid7162.MorphologicalOperations,
            version=algorithm.version,
            parameters=dict(algorithm.parameters) or None,
        ),
        tracking_uid=lesion.tracking_uid,
        tracking_id=lesion.tracking_identifier,
        anatomic_regions=[hd_code(site)],
    )


def build_seg(
    lesion_segments: Sequence[LesionSegment],
    source_datasets: Sequence[Dataset],
    *,
    algorithm: AlgorithmRecord | None = None,
) -> Dataset:
    """The SEG dataset (not written) of the lesions of one time point.

    Raises:
        InputError: no lesion, a duplicate tracking UID, a mask off the grid or empty,
            or source images that are not one series.
        ExportError: highdicom refuses the result.
    """
    import highdicom as hd

    if not lesion_segments:
        raise InputError("a SEG needs at least one lesion mask")
    uids = [m.lesion.tracking_uid for m in lesion_segments]
    if len(set(uids)) != len(uids):
        raise InputError("two masks share a TrackingUID", value=uids)
    slices = sorted_series(source_datasets)
    pixels, rows = _stack(lesion_segments, slices)
    algo = algorithm or _default_algorithm()
    descriptions = [_description(n, m.lesion, algo) for n, m in enumerate(lesion_segments, start=1)]
    try:
        seg = build_logging_warnings(
            lambda: hd.seg.Segmentation(
                source_images=slices[rows],
                pixel_array=pixels,
                segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
                segment_descriptions=descriptions,
                series_instance_uid=hd.UID(),
                series_number=SEG_SERIES_NUMBER,
                sop_instance_uid=hd.UID(),
                instance_number=1,
                manufacturer=MANUFACTURER,
                manufacturer_model_name=MANUFACTURER,
                software_versions=software_version(),
                device_serial_number="none",
                content_description=DRAFT_NOTICE,
                content_label="LESIONS",
                transfer_syntax_uid=ExplicitVRLittleEndian,
            )
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise ExportError(f"cannot build the DICOM SEG: {exc}") from exc
    seg.SeriesDescription = DRAFT_NOTICE
    declare_local_scheme(seg)
    return seg


def write_seg(
    path: str | Path,
    lesion_segments: Sequence[LesionSegment],
    source_datasets: Sequence[Dataset],
    *,
    algorithm: AlgorithmRecord | None = None,
    force: bool = False,
) -> Dataset:
    """Write the SEG of one time point: segment ``n`` is ``lesion_segments[n - 1]``.

    Args:
        path: the ``.dcm`` file to write (its folder must exist).
        lesion_segments: the lesions and their masks, in segment order.
        source_datasets: the source CT series (any order; sorted by position here).
        algorithm: the segmentation algorithm; radcycle's own by default.
        force: replace an existing file.

    Returns:
        The SEG dataset written (for :func:`~radcycle.reporting.export.sr.write_sr`
        to reference its segments).

    Raises:
        InputError: see :func:`build_seg`.
        ExportError: the file exists (without ``force``) or cannot be written.
    """
    seg = export(
        path, force, lambda: build_seg(lesion_segments, source_datasets, algorithm=algorithm), save
    )
    log.info("wrote SEG with %d segments to %s", len(lesion_segments), path)
    return seg
