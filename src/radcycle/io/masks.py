"""Read a lesion mask however it comes: an image file, an RTSTRUCT ROI or a SEG segment.

``read_mask(path, reference)`` returns a mask Volume on the reference image's
grid: a NIfTI/NRRD/MetaImage or DICOM mask image as it is (the caller checks the
grid), or one ROI of an RTSTRUCT / one segment of a SEG rasterised onto the
reference grid.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from radcycle.domain import Volume
from radcycle.errors import InputError, PathNotFoundError
from radcycle.io.dicom.headers import read_header
from radcycle.io.dicom.rtstruct import read_rtstruct
from radcycle.io.dicom.seg import read_seg
from radcycle.io.images import is_itk_image_path, read_image

__all__ = ["read_mask", "select_label"]

# More distinct values than this is not a label image (a probability map, an image).
_MAX_LABELS = 1000

# DICOM objects that hold ROIs rather than an image, and their readers.
_ROI_READERS: dict[str, Callable[[Path, Volume], dict[str, Volume]]] = {
    "RTSTRUCT": lambda path, ref: read_rtstruct(path, ref),
    "SEG": lambda path, ref: read_seg(path, reference=ref),
}


def _roi_object(path: Path) -> tuple[Path, str]:
    """The single DICOM file at ``path`` (a file, or a folder holding one) and its kind."""
    if is_itk_image_path(path):
        return path, ""
    files = [path] if path.is_file() else sorted(f for f in path.iterdir() if f.is_file())
    if len(files) != 1 or is_itk_image_path(files[0]):
        return path, ""
    try:
        return files[0], read_header(files[0]).kind
    except InputError:
        return path, ""


def read_mask(path: str | Path, reference: Volume, roi: str | None = None) -> Volume:
    """A mask image, or one ROI of an RTSTRUCT / SEG rasterised on ``reference``'s grid.

    Args:
        path: mask image file, DICOM mask series, RTSTRUCT or SEG (file or folder of one).
        reference: the image the mask belongs to.
        roi: ROI name (RTSTRUCT) or segment label (SEG); needed when there are several.

    Raises:
        PathNotFoundError: ``path`` does not exist.
        InputError: the ROI is not there, or several are and none was chosen.

    A label image (several integer labels) gives the voxels of label ``roi``; without
    ``roi`` all labels are merged and ``metadata["warnings"]`` says so.
    """
    p = Path(path)
    if not p.exists():
        raise PathNotFoundError("no such file or folder", path=p)
    target, kind = _roi_object(p)
    reader = _ROI_READERS.get(kind)
    if reader is None:
        return select_label(read_image(p), roi, p)
    rois = reader(target, reference)
    if roi is None and len(rois) == 1:
        return next(iter(rois.values()))
    if roi not in rois:
        raise InputError(
            f"choose an ROI with --roi; {kind} holds {sorted(rois)}", path=target, value=roi
        )
    return rois[roi]


def select_label(mask: Volume, roi: str | None, path: Path) -> Volume:
    """The voxels of label ``roi`` of a label image; all non-zero voxels without ``roi``.

    Raises:
        InputError: ``roi`` is not an integer label, or the image does not hold it.

    Example:
        >>> import numpy as np
        >>> from radcycle.domain import Geometry
        >>> arr = np.zeros((2, 2, 2), dtype=np.uint8); arr[0, 0, 0] = 1; arr[1, 1, 1] = 2
        >>> labels = Volume(arr, Geometry((0, 0, 0), (1, 1, 1)))
        >>> int(select_label(labels, "2", Path("m.nii")).array.sum())
        1
        >>> select_label(labels, None, Path("m.nii")).metadata["warnings"]
        ['m.nii holds labels [1, 2], merged into one ROI; choose one with --roi N']
    """
    values = np.unique(mask.array[mask.array != 0])
    labels = [int(v) for v in values] if values.size <= _MAX_LABELS else []
    if labels and not np.array_equal(values, labels):
        labels = []  # not integers: a mask of values, not of labels
    if roi is None:
        if len(labels) < 2:
            return mask
        note = f"{path} holds labels {labels}, merged into one ROI; choose one with --roi N"
        return mask.with_array(mask.array, warnings=[note])
    try:
        wanted = int(roi)
    except ValueError as exc:
        raise InputError("--roi of a label image is a label number", path=path, value=roi) from exc
    if wanted not in labels:
        raise InputError(
            f"label {wanted} is not in the mask; it holds labels {labels[:20]}",
            path=path,
            value=roi,
        )
    return mask.with_array((mask.array == wanted).astype(np.uint8))
