"""Plain data for lesions found and measured in one image series.

Everything here is in patient coordinates (DICOM LPS, millimetres); no voxel index
ever appears in these records, so they can go straight into findings.json.
Each record carries its :class:`Provenance`: which series, which method, and why
the result was kept, so a report can cite where every number came from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Detection",
    "LesionLocation",
    "LesionMeasurements",
    "Provenance",
]


@dataclass(frozen=True)
class Provenance:
    """Where a result came from.

    Args:
        method: the algorithm and its version, e.g. ``"radcycle.detect/1"``.
        series_uid: SeriesInstanceUID of the image, if known.
        reason: why the result was kept (the tests it passed), in words.
        source: the file or folder read, if known.
    """

    method: str
    series_uid: str | None = None
    reason: str = ""
    source: str | None = None


@dataclass(frozen=True)
class LesionLocation:
    """Where a lung finding lies.

    Args:
        side: ``"left"``, ``"right"`` or ``"unknown"``.
        zone: ``"upper"``, ``"middle"`` or ``"lower"`` third of that lung.
        lobe: lobe (``RUL``, ``RML``, ``RLL``, ``LUL``, ``LLL``), an estimate.
        juxtapleural: the lesion touches or nearly touches the pleura (costal or
            mediastinal surface of the lung).
        perifissural: the lesion lies on a fissure; ``None`` where not assessed.
        pleural_distance_mm: distance from the lesion's edge to the pleura.
        lobe_from: what the lobe was told from: ``"position"`` (side, zone, front
            or back) or ``"fissures"`` (the side of the fissures traced near it).
    """

    side: str = "unknown"
    zone: str = "unknown"
    lobe: str = "unknown"
    juxtapleural: bool = False
    perifissural: bool | None = None
    pleural_distance_mm: float | None = None
    lobe_from: str = "position"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LesionMeasurements:
    """The size and density of one lesion, from its mask (all lengths in mm).

    Args:
        long_axis_mm: RECIST 1.1 longest diameter in the acquisition (axial) plane.
        short_axis_mm: longest diameter perpendicular to it in the same slice.
        max_3d_diameter_mm: the largest distance across the lesion in 3D.
        volume_mm3: voxel count times voxel volume.
        mean_diameter_mm: Lung-RADS v2022 size, mean of long and short axis, 0.1 mm.
        centre_mm: centroid of the mask in LPS mm.
        axial_slice_mm: LPS position of the centre of the slice that holds the long axis.
        long_axis_endpoints_mm: the two LPS ends of the long axis (voxel centres).
        intensity: named intensity figures (``mean_hu``, ``max_hu``, ``suv_max``,
            ``suv_peak``, ...) depending on the modality.
        nodule_type: ``solid``, ``part-solid``, ``ground-glass`` (CT lung) or ``None``.
        solid_long_axis_mm: long axis of the solid component of a part-solid nodule.
        solid_mean_diameter_mm: Lung-RADS mean diameter of that solid component.
        voxel_count: number of voxels in the mask.
    """

    long_axis_mm: float
    short_axis_mm: float
    max_3d_diameter_mm: float
    volume_mm3: float
    mean_diameter_mm: float
    centre_mm: tuple[float, float, float]
    axial_slice_mm: tuple[float, float, float]
    long_axis_endpoints_mm: tuple[tuple[float, float, float], tuple[float, float, float]]
    intensity: dict[str, float] = field(default_factory=dict)
    nodule_type: str | None = None
    solid_long_axis_mm: float | None = None
    solid_mean_diameter_mm: float | None = None
    voxel_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Detection:
    """One lesion found by detection (or clicked), measured and located.

    Args:
        centre_mm: LPS centre in mm.
        confidence: 0..1, how sure the detector is that this is a nodule.
        measurements: sizes and densities from the lesion's mask.
        location: where it lies in the lungs, if known.
        provenance: series, method and the reason the candidate was kept.
        radiomics: feature tag -> value, where computed.
    """

    centre_mm: tuple[float, float, float]
    confidence: float
    measurements: LesionMeasurements
    location: LesionLocation
    provenance: Provenance
    radiomics: dict[str, float] = field(default_factory=dict)

    @property
    def nodule_type(self) -> str | None:
        return self.measurements.nodule_type

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (LPS mm, never voxel indices)."""
        out = asdict(self)
        out["type"] = self.measurements.nodule_type
        return out
