"""One lesion's measurement at one time point, as the guideline engines read it.

:class:`LesionMeasurement` is the plain record that imaging, longitudinal,
guidelines and reporting share: the lesion's tracking identity, where it is, its
diameters and volume (millimetres), and what kind of lung nodule it is. Values are
validated once, when the record is built.

A lesion that was looked for but could not be measured still has a record: its
:class:`LesionStatus` says whether it was too small to measure, gone, present but
unmeasured, or not evaluated at all, which is what RECIST 1.1 needs to tell
"0 mm" from "unknown".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from radcycle.domain.identity import validate_uid
from radcycle.errors import InputError

__all__ = ["LesionMeasurement", "LesionStatus", "NoduleType", "parse_enum"]

E = TypeVar("E", bound=StrEnum)


class NoduleType(StrEnum):
    """Lung nodule attenuation (Lung-RADS v2022, Fleischner 2017, Brock)."""

    SOLID = "solid"
    PART_SOLID = "part-solid"
    GROUND_GLASS = "ground-glass"


class LesionStatus(StrEnum):
    """What was seen of a lesion at one time point.

    ``measured``: diameters given. ``too small to measure``: present but too small
    for a reliable diameter (RECIST 1.1 section 4.3.2 assigns 5 mm).
    ``disappeared``: gone (0 mm). ``present``: seen, not measured (non-target
    lesions are followed qualitatively). ``not evaluated``: not looked at or not
    assessable (RECIST 1.1 section 4.4.2).
    """

    MEASURED = "measured"
    TOO_SMALL_TO_MEASURE = "too small to measure"
    DISAPPEARED = "disappeared"
    PRESENT = "present"
    NOT_EVALUATED = "not evaluated"


def parse_enum(kind: type[E], value: str | E, what: str) -> E:
    """Convert ``value`` to the enum ``kind``, naming the valid options if it is not one.

    Example:
        >>> parse_enum(NoduleType, "solid", "nodule type")
        <NoduleType.SOLID: 'solid'>
    """
    try:
        return kind(value)
    except ValueError as exc:
        options = ", ".join(repr(m.value) for m in kind)
        raise InputError(f"{what} must be one of {options}", value=value) from exc


def _check_length(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a number of millimetres", value=value)
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{name} must be finite and >= 0", value=value)


@dataclass(frozen=True, kw_only=True)
class LesionMeasurement:
    """One lesion at one time point (lengths in mm, volume in mm3).

    Args:
        lesion_id: TrackingIdentifier, the same for the lesion at every time point.
        tracking_uid: TrackingUniqueIdentifier (a DICOM UID), if assigned.
        organ: organ or site (targets are limited per organ by RECIST 1.1).
        is_lymph_node: nodes are measured by their short axis (RECIST 1.1 section 3.1).
        long_axis_mm: longest in-plane diameter.
        short_axis_mm: longest diameter perpendicular to the long axis.
        volume_mm3: segmented volume, if measured.
        status: what was seen; inferred as ``measured`` when a diameter is given,
            else ``not evaluated``.
        nodule_type: lung nodule attenuation, for the lung guidelines.
        solid_component_mm: mean diameter of the solid part of a part-solid nodule.
        reproducible: whether the lesion can be measured reproducibly (RECIST 1.1
            section 4.2 prefers such lesions as targets).
        source: provenance (series UID, mask, method) for the report.
        equivocal: a new lesion that is not unequivocally new (RECIST 1.1 section
            4.3.5): not counted until a later exam confirms it.
        split_from: for a fragment of a lesion that split, the ``lesion_id`` of the
            lesion it split from (RECIST 1.1: the fragments' diameters are added).
        merged_into: for a lesion that coalesced with another, the ``lesion_id`` of
            the lesion it merged into (RECIST 1.1: it counts 0 mm, the coalesced
            lesion carries the whole diameter).

    Example:
        >>> m = LesionMeasurement(lesion_id="L1", organ="lung", long_axis_mm=12.0)
        >>> m.status.value
        'measured'
    """

    lesion_id: str
    tracking_uid: str = ""
    organ: str = ""
    is_lymph_node: bool = False
    long_axis_mm: float | None = None
    short_axis_mm: float | None = None
    volume_mm3: float | None = None
    status: LesionStatus | None = None
    nodule_type: NoduleType | None = None
    solid_component_mm: float | None = None
    reproducible: bool = True
    source: str = ""
    equivocal: bool = False
    split_from: str = ""
    merged_into: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.lesion_id, str) or not self.lesion_id.strip():
            raise InputError("lesion_id (TrackingIdentifier) must be a non-empty string")
        if self.tracking_uid:
            validate_uid(self.tracking_uid, "TrackingUniqueIdentifier")
        for name in ("long_axis_mm", "short_axis_mm", "solid_component_mm"):
            _check_length(f"{self.lesion_id}: {name}", getattr(self, name))
        _check_length(f"{self.lesion_id}: volume_mm3", self.volume_mm3)
        self._check_axes()
        self._check_links()
        if self.nodule_type is not None:
            object.__setattr__(
                self, "nodule_type", parse_enum(NoduleType, self.nodule_type, "nodule_type")
            )
        object.__setattr__(self, "status", self._resolve_status())

    def _check_axes(self) -> None:
        long, short = self.long_axis_mm, self.short_axis_mm
        if long is not None and short is not None and short > long + 1e-9:
            raise InputError(
                f"{self.lesion_id}: short axis longer than long axis", value=(long, short)
            )
        solid = self.solid_component_mm
        if solid is not None and long is not None and solid > long + 1e-9:
            raise InputError(
                f"{self.lesion_id}: solid component larger than the nodule", value=(solid, long)
            )

    def _check_links(self) -> None:
        for name in ("split_from", "merged_into"):
            value = getattr(self, name)
            if not isinstance(value, str) or value == self.lesion_id:
                raise InputError(f"{self.lesion_id}: {name} must name another lesion", value=value)
        if self.split_from and self.merged_into:
            raise InputError(f"{self.lesion_id}: a lesion cannot both split from and merge into")

    def _resolve_status(self) -> LesionStatus:
        has_size = self.long_axis_mm is not None or self.short_axis_mm is not None
        if self.status is None:
            return LesionStatus.MEASURED if has_size else LesionStatus.NOT_EVALUATED
        status = parse_enum(LesionStatus, self.status, "status")
        if status is LesionStatus.MEASURED:
            needed = self.short_axis_mm if self.is_lymph_node else self.long_axis_mm
            if needed is None:
                axis = "short_axis_mm" if self.is_lymph_node else "long_axis_mm"
                raise InputError(f"{self.lesion_id}: status 'measured' needs {axis}")
        return status

    @property
    def mean_diameter_mm(self) -> float | None:
        """Mean of long and short axis (unrounded); None without both axes."""
        if self.long_axis_mm is None or self.short_axis_mm is None:
            return None
        return (self.long_axis_mm + self.short_axis_mm) / 2.0
