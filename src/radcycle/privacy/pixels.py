"""Burned-in annotation: which images to quarantine, and what Clean Pixel Data can do.

PS3.15 E.3.1 (Clean Pixel Data Option): identifying text drawn into the pixels must
be removed before the image can leave. Without knowing where the text is, radcycle
cannot remove it, so such images are quarantined. The one case handled is
ultrasound with a Sequence of Ultrasound Regions (0018,6011): everything outside
the declared regions (where scanners draw names, dates and the institution) is
blanked; text inside a region stays, so review is still advised.
"""

from __future__ import annotations

import logging

import numpy as np
from pydicom.dataset import Dataset

from radcycle.privacy.phi import simple_charset, text_values

__all__ = ["burned_in_reason", "clean_pixels"]

logger = logging.getLogger(__name__)

# PS3.4 B.5: Secondary Capture image storage SOP classes (screenshots, scans of paper).
SECONDARY_CAPTURE = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.840.10008.5.1.4.1.1.7.1",
        "1.2.840.10008.5.1.4.1.1.7.2",
        "1.2.840.10008.5.1.4.1.1.7.3",
        "1.2.840.10008.5.1.4.1.1.7.4",
    }
)
# Ultrasound image storage (single and multi-frame, current and retired).
ULTRASOUND = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.6.1",
        "1.2.840.10008.5.1.4.1.1.6.2",
        "1.2.840.10008.5.1.4.1.1.3.1",
        "1.2.840.10008.5.1.4.1.1.6",
        "1.2.840.10008.5.1.4.1.1.3",
    }
)
# Modalities whose images are photographs or screens (faces, labels, text).
PHOTO_MODALITIES = frozenset({"XC", "ES", "GM", "OT", "DOC", "OP"})
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def burned_in_reason(ds: Dataset) -> str | None:
    """Why the pixels of ``ds`` may show identifying text or a face, or None.

    The rules, in order: BurnedInAnnotation (0028,0301) YES; Recognizable Visual
    Features (0028,0302) YES; then, unless BurnedInAnnotation says NO: Secondary
    Capture SOP classes, ultrasound, photographic modalities, and slide-label or
    overview images.
    """
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        return None
    codec = simple_charset(ds)

    def first(tag: int) -> str:
        values = text_values(ds, tag, codec)
        return values[0].upper() if values else ""

    burned = first(0x00280301)  # Burned In Annotation
    if burned == "YES":
        return "BurnedInAnnotation is YES"
    if first(0x00280302) == "YES":  # Recognizable Visual Features
        return "RecognizableVisualFeatures is YES"
    if burned == "NO":
        return None
    sop_class = first(0x00080016)
    modality = first(0x00080060)
    image_type = {v.upper() for v in text_values(ds, 0x00080008, codec)}
    rules = (
        (sop_class in SECONDARY_CAPTURE, "secondary capture image"),
        (sop_class in ULTRASOUND or modality == "US", "ultrasound image"),
        (modality in PHOTO_MODALITIES, f"photographic modality {modality}"),
        (bool(image_type & {"LABEL", "OVERVIEW"}), "slide label or overview image"),
    )
    for hit, reason in rules:
        if hit:
            return f"{reason}: may hold burned-in annotation (BurnedInAnnotation not NO)"
    return None


def clean_pixels(ds: Dataset) -> bool:
    """Blank what lies outside the ultrasound regions; True where that was possible.

    Returns:
        True if ``ds`` is ultrasound with regions and its pixels were rewritten
        (decompressed to Explicit VR Little Endian); False otherwise (nothing done).
    """
    regions = ds.get("SequenceOfUltrasoundRegions")
    if not regions:
        return False
    try:
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.decompress()
        pixels = ds.pixel_array.copy()
    except Exception as exc:  # any decoder failure means: cannot clean, keep quarantine
        logger.warning("cannot decode pixels for cleaning: %s", exc)
        return False
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    rows_axis = 1 if frames > 1 else 0
    keep = np.zeros((int(ds.Rows), int(ds.Columns)), dtype=bool)
    for region in regions:
        x0, y0 = int(region.RegionLocationMinX0), int(region.RegionLocationMinY0)
        x1, y1 = int(region.RegionLocationMaxX1), int(region.RegionLocationMaxY1)
        keep[y0 : y1 + 1, x0 : x1 + 1] = True
    shape = [1] * pixels.ndim
    shape[rows_axis], shape[rows_axis + 1] = keep.shape
    if samples > 1 and pixels.ndim == rows_axis + 3:
        shape[-1] = 1
    pixels = np.where(keep.reshape(shape), pixels, 0).astype(pixels.dtype)
    ds.PixelData = pixels.tobytes()
    return True
