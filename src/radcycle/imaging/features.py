"""What is known about a click before any outline is drawn, computed once.

:func:`click_features` gathers, for a click at a voxel, the facts the router
(:mod:`radcycle.imaging.routing`) decides on: the modality, the voxel spacing,
on CT the blob under the click (:func:`radcycle.imaging.blobs.blob_at`) and
the share of aerated lung around it. Every rule reads these; none computes
them again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radcycle.domain import Volume
from radcycle.imaging.blobs import Blob, distances_from
from radcycle.imaging.inputs import modality_of
from radcycle.imaging.masks import array_spacing, crop_slices
from radcycle.imaging.outlines import lung_fraction
from radcycle.imaging.segmentation_settings import SegmentationSettings

__all__ = ["ClickFeatures", "click_features"]

# Aerated lung is sought within this (mm) of the click, or this far beyond a
# large blob's edge.
_LUNG_REACH_MM = 25.0
_LUNG_BEYOND_BLOB_MM = 15.0


@dataclass(frozen=True)
class ClickFeatures:
    """A click and what the router needs to know about it.

    Args:
        seed: the click's voxel ``(k, j, i)``.
        modality: ``CT``, ``MR``, ``PT``, ...
        spacing: voxel size (mm) along ``(k, j, i)``.
        blob: on CT, the blob under the click where one was sought and found.
        large: whether that blob's radius exceeds
            :attr:`SegmentationSettings.large_blob_mm` (a large tumour).
        lung_share: on CT, the share of aerated lung within 25 mm of the click,
            or for a large blob in the 15 mm beyond its edge (a large tumour's
            inside holds no lung); None on other modalities, or where not sought.
        min_roi_mm: the least region half-size for this click: for a large
            blob :attr:`SegmentationSettings.roi_per_radius` times its radius.
    """

    seed: tuple[int, int, int]
    modality: str
    spacing: tuple[float, float, float]
    blob: Blob | None = None
    large: bool = False
    lung_share: float | None = None
    min_roi_mm: float = 0.0


def click_features(
    volume: Volume,
    seed: tuple[int, int, int],
    blob: Blob | None,
    settings: SegmentationSettings,
    *,
    lung: bool = True,
) -> ClickFeatures:
    """The features of a click at voxel ``seed`` with ``blob`` under it (or None);
    the share of lung around it only with ``lung`` (a method asked for by name
    needs no routing)."""
    modality = modality_of(volume)
    spacing = array_spacing(volume)
    large = blob is not None and blob.radius_mm > settings.large_blob_mm
    min_roi = settings.roi_per_radius * blob.radius_mm if blob is not None and large else 0.0
    share = None
    if modality == "CT" and lung:
        share = _lung_share(volume, seed, blob if large else None, spacing)
    return ClickFeatures(seed, modality, spacing, blob, large, share, min_roi)


def _lung_share(
    volume: Volume,
    seed: tuple[int, int, int],
    large_blob: Blob | None,
    spacing: tuple[float, float, float],
) -> float:
    if large_blob is not None:
        outer = large_blob.radius_mm + _LUNG_BEYOND_BLOB_MM
        sl = crop_slices(large_blob.centre, outer, spacing, volume.array.shape)
        reach = distances_from([np.arange(x.start, x.stop) for x in sl], large_blob.centre, spacing)
        shell = (reach > large_blob.radius_mm) & (reach <= outer)
        values = np.asarray(volume.array[sl], dtype=np.float64)[shell]
    else:
        values = np.asarray(
            volume.array[crop_slices(seed, _LUNG_REACH_MM, spacing, volume.array.shape)]
        )
    return lung_fraction(np.asarray(values, dtype=np.float64))
