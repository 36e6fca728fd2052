"""Small builders for guideline tests."""

from __future__ import annotations

from radcycle.domain import LesionMeasurement


def lesion(
    lesion_id: str, long_mm: float | None, organ: str = "lung", **kw: object
) -> LesionMeasurement:
    """A non-nodal lesion measured by its long axis."""
    return LesionMeasurement(lesion_id=lesion_id, organ=organ, long_axis_mm=long_mm, **kw)


def node(lesion_id: str, short_mm: float, organ: str = "mediastinum") -> LesionMeasurement:
    """A lymph node measured by its short axis (long axis a little longer)."""
    return LesionMeasurement(
        lesion_id=lesion_id,
        organ=organ,
        is_lymph_node=True,
        long_axis_mm=short_mm + 5.0,
        short_axis_mm=short_mm,
    )
