"""Plain data for lesions found and measured in one image series.

Everything here is in patient coordinates (DICOM LPS, millimetres); no voxel index
ever appears in these records, so they can go straight into findings.json.
A detection's sizes are the one lesion record,
:class:`~radcycle.domain.findings.LesionMeasurement`, with its image and
algorithm; :class:`Provenance` adds why the detector kept the candidate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from radcycle.domain.findings import LesionMeasurement

__all__ = [
    "Detection",
    "LesionLocation",
    "Provenance",
    "measurements_dict",
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


def measurements_dict(m: LesionMeasurement) -> dict[str, Any]:
    """The sizes and densities of a lesion measured from its mask, JSON-ready.

    The shape ``radcycle lesion`` and ``radcycle detect`` print (all lengths in mm,
    LPS coordinates): long and short axis, largest 3D diameter, volume, the
    Lung-RADS mean diameter, centre, the long axis's slice and ends, intensity
    figures, nodule type and the solid component of a part-solid nodule.

    Example:
        >>> measurements_dict(LesionMeasurement(long_axis_mm=7.0, short_axis_mm=6.1))[
        ...     "mean_diameter_mm"]
        6.6
    """
    long, short = m.long_axis_mm, m.short_axis_mm
    ends = m.long_axis_endpoints_mm
    return {
        "long_axis_mm": long,
        "short_axis_mm": short,
        "max_3d_diameter_mm": m.max_3d_diameter_mm,
        "volume_mm3": m.volume_mm3,
        "mean_diameter_mm": None if long is None or short is None else m.rounded_mean_diameter_mm,
        "centre_mm": None if m.centre_mm is None else list(m.centre_mm),
        "axial_slice_mm": None if m.axial_slice_mm is None else list(m.axial_slice_mm),
        "long_axis_endpoints_mm": None if ends is None else [list(ends[0]), list(ends[1])],
        "intensity": dict(m.intensity),
        "nodule_type": None if m.nodule_type is None else m.nodule_type.value,
        "solid_long_axis_mm": m.solid_long_axis_mm,
        "solid_mean_diameter_mm": m.solid_component_mm,
        "voxel_count": m.voxel_count,
    }


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
    measurements: LesionMeasurement
    location: LesionLocation
    provenance: Provenance
    radiomics: dict[str, float] = field(default_factory=dict)

    @property
    def nodule_type(self) -> str | None:
        kind = self.measurements.nodule_type
        return None if kind is None else kind.value

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (LPS mm, never voxel indices)."""
        return {
            "centre_mm": list(self.centre_mm),
            "confidence": self.confidence,
            "measurements": measurements_dict(self.measurements),
            "location": self.location.to_dict(),
            "provenance": asdict(self.provenance),
            "radiomics": dict(self.radiomics),
            "type": self.nodule_type,
        }
