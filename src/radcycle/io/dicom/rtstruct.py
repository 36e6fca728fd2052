"""RTSTRUCT contours to voxel masks on the referenced image grid.

Each ROI's CLOSED_PLANAR contours (PS3.3 C.8.8.6, points in patient LPS mm)
are mapped into the reference volume's continuous index space and filled on
their slice: a voxel belongs to the ROI when its centre lies inside the polygon.
Several contours of one ROI on one slice combine by parity (even-odd), so a
contour inside another is a hole, as RT planning systems draw them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from skimage.draw import polygon as fill_polygon

from radcycle.domain import Volume
from radcycle.errors import InputError, MissingReferenceError, NotDicomError

log = logging.getLogger(__name__)

__all__ = ["read_rtstruct", "roi_names"]

_SLICE_TOL = 0.25  # contour must lie within a quarter slice of a voxel plane


def _dataset(path: str | Path) -> pydicom.Dataset:
    try:
        ds = pydicom.dcmread(str(path))
    except InvalidDicomError as exc:
        raise NotDicomError("not a DICOM file", path=path) from exc
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"cannot read RTSTRUCT: {exc}", path=path) from exc
    if str(ds.get("Modality", "")) != "RTSTRUCT":
        raise InputError(
            "not an RTSTRUCT", path=path, tag="(0008,0060) Modality", value=ds.get("Modality")
        )
    return ds


def roi_names(path: str | Path) -> dict[int, str]:
    """ROINumber -> ROIName of an RTSTRUCT file."""
    ds = _dataset(path)
    return {int(r.ROINumber): str(r.ROIName) for r in ds.get("StructureSetROISequence", [])}


def read_rtstruct(
    path: str | Path, reference: Volume, rois: list[str] | None = None
) -> dict[str, Volume]:
    """Rasterise the ROIs of an RTSTRUCT onto ``reference``'s grid.

    Args:
        path: the RTSTRUCT file.
        reference: the image volume the contours were drawn on.
        rois: ROI names to keep (all by default).

    Returns:
        ROI name -> boolean mask Volume on the reference grid.

    Raises:
        MissingReferenceError: the frame of reference differs, or contours fall outside.
    """
    ds = _dataset(path)
    names = {int(r.ROINumber): str(r.ROIName) for r in ds.get("StructureSetROISequence", [])}
    ref_for = str(reference.metadata.get("frame_of_reference_uid", ""))
    struct_for = {
        str(r.get("ReferencedFrameOfReferenceUID", ""))
        for r in ds.get("StructureSetROISequence", [])
    }
    if ref_for and struct_for and ref_for not in struct_for:
        raise MissingReferenceError(
            "RTSTRUCT refers to another FrameOfReferenceUID than the image",
            path=path,
            tag="(3006,0024) ReferencedFrameOfReferenceUID",
            value=sorted(struct_for),
        )
    out: dict[str, Volume] = {}
    for roi in ds.get("ROIContourSequence", []):
        name = names.get(int(roi.ReferencedROINumber), f"ROI {roi.ReferencedROINumber}")
        if rois is not None and name not in rois:
            continue
        mask = _rasterise(roi, reference, path, name)
        out[name] = reference.with_array(
            mask, kind="mask", roi_name=name, source_rtstruct=str(path)
        )
    if rois is not None:
        missing = sorted(set(rois) - set(out))
        if missing:
            raise InputError(
                f"ROI(s) not in RTSTRUCT; available: {sorted(names.values())}",
                path=path,
                value=missing,
            )
    return out


def _rasterise(roi: pydicom.Dataset, reference: Volume, path: str | Path, name: str) -> np.ndarray:
    nk, nj, ni = reference.array.shape
    mask = np.zeros((nk, nj, ni), dtype=bool)
    outside = 0
    for contour in roi.get("ContourSequence", []):
        kind = str(contour.get("ContourGeometricType", "CLOSED_PLANAR"))
        data = np.asarray(contour.ContourData, dtype=np.float64).reshape(-1, 3)
        ijk = reference.patient_to_index(data)
        if kind == "POINT" or len(ijk) < 3:
            continue
        k_values = ijk[:, 2]
        k = int(np.round(np.median(k_values)))
        if (
            np.ptp(k_values) > 2 * _SLICE_TOL
            or abs(k_values.mean() - k) > _SLICE_TOL
            or not 0 <= k < nk
        ):
            outside += 1
            continue
        rr, cc = fill_polygon(ijk[:, 1], ijk[:, 0], shape=(nj, ni))
        layer = np.zeros((nj, ni), dtype=bool)
        layer[rr, cc] = True
        mask[k] ^= layer
    if outside:
        log.warning(
            "%s: ROI %s: %d contour(s) off the image slices were skipped", path, name, outside
        )
    if not mask.any():
        raise MissingReferenceError(
            f"ROI {name!r} has no contour on the reference image's slices",
            path=path,
            value=reference.metadata.get("series_instance_uid"),
        )
    return mask
