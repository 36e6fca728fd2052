"""DICOM SEG to masks, through highdicom.

highdicom assembles the SEG frames into a volume with its own affine (index
order slice, row, column -> LPS mm); we convert that into a radcycle Volume
per segment and, given a reference image, resample it onto the image grid by
nearest neighbour so masks and images line up voxel for voxel.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from radcycle.domain import Geometry, Volume
from radcycle.errors import InputError, MissingReferenceError

log = logging.getLogger(__name__)

__all__ = ["read_seg"]


def _to_volume(array: np.ndarray, affine: np.ndarray, **metadata: object) -> Volume:
    # highdicom's affine columns: slice axis, row axis (j), column axis (i).
    cols = [affine[:3, 2], affine[:3, 1], affine[:3, 0]]
    spacing = [float(np.linalg.norm(c)) for c in cols]
    direction = np.column_stack([c / s for c, s in zip(cols, spacing, strict=True)])
    return Volume(array, Geometry(affine[:3, 3], spacing, direction), dict(metadata))


def read_seg(path: str | Path, reference: Volume | None = None) -> dict[str, Volume]:
    """Read a DICOM SEG into one mask Volume per segment (label -> mask).

    Binary and fractional SEGs are supported; fractional values are thresholded
    at 0.5. With ``reference``, masks are resampled onto its grid.
    """
    import highdicom as hd

    p = Path(path)
    try:
        seg = hd.seg.segread(str(p))
    except (ValueError, AttributeError, KeyError, OSError, TypeError) as exc:
        raise InputError(f"cannot read DICOM SEG: {exc}", path=p) from exc
    labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}
    try:
        vol = seg.get_volume(combine_segments=False, rescale_fractional=True)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise InputError(
            f"SEG frames do not form a regular volume: {exc}", path=p, tag="(5200,9230)"
        ) from exc
    out: dict[str, Volume] = {}
    array = np.asarray(vol.array)
    for index, number in enumerate(sorted(labels)):
        data = array[..., index] if array.ndim == 4 else array
        mask = _to_volume(
            np.asarray(data >= 0.5, dtype=bool),
            np.asarray(vol.affine, dtype=np.float64),
            kind="mask",
            segment_number=number,
            segment_label=labels[number],
            source_seg=str(p),
            frame_of_reference_uid=str(seg.get("FrameOfReferenceUID", "")),
        )
        if reference is not None:
            mask = _resample_nearest(mask, reference, p)
        out[labels[number]] = mask
    return out


def _resample_nearest(mask: Volume, reference: Volume, path: Path) -> Volume:
    nk, nj, ni = reference.array.shape
    kk, jj, ii = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    ijk = np.column_stack([ii.ravel(), jj.ravel(), kk.ravel()])
    src = np.rint(mask.patient_to_index(reference.index_to_patient(ijk))).astype(np.int64)
    mk, mj, mi = mask.array.shape
    inside = (
        (src[:, 0] >= 0)
        & (src[:, 0] < mi)
        & (src[:, 1] >= 0)
        & (src[:, 1] < mj)
        & (src[:, 2] >= 0)
        & (src[:, 2] < mk)
    )
    values = np.zeros(len(src), dtype=bool)
    values[inside] = mask.array[src[inside, 2], src[inside, 1], src[inside, 0]]
    if mask.array.any() and not values.any():
        raise MissingReferenceError(
            "SEG does not overlap the reference image",
            path=path,
            value=reference.metadata.get("series_instance_uid"),
        )
    return reference.with_array(values.reshape(nk, nj, ni), **dict(mask.metadata))
