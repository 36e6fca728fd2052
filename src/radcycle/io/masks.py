"""Read a lesion mask however it comes: an image file, an RTSTRUCT ROI or a SEG segment.

``read_mask(path, reference)`` returns a mask Volume on the reference image's
grid: a NIfTI/NRRD/MetaImage or DICOM mask image as it is (the caller checks the
grid), or one ROI of an RTSTRUCT / one segment of a SEG rasterised onto the
reference grid.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from radcycle.domain import Volume
from radcycle.errors import InputError, PathNotFoundError
from radcycle.io.dicom.headers import read_header
from radcycle.io.dicom.rtstruct import read_rtstruct
from radcycle.io.dicom.seg import read_seg
from radcycle.io.images import is_itk_image_path, read_image

__all__ = ["read_mask"]

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
    """
    p = Path(path)
    if not p.exists():
        raise PathNotFoundError("no such file or folder", path=p)
    target, kind = _roi_object(p)
    reader = _ROI_READERS.get(kind)
    if reader is None:
        return read_image(p)
    rois = reader(target, reference)
    if roi is None and len(rois) == 1:
        return next(iter(rois.values()))
    if roi not in rois:
        raise InputError(
            f"choose an ROI with --roi; {kind} holds {sorted(rois)}", path=target, value=roi
        )
    return rois[roi]
