"""One lesion at one time point: the one record every layer passes on.

:class:`LesionMeasurement` is the plain record that imaging, longitudinal,
guidelines and reporting share, the way DICOM SR TID 1500 groups a lesion's
measurements: the lesion's tracking identity (empty until it is tracked), where
it is, its diameters and volume (millimetres), what kind of lung nodule it is,
and its structured provenance (the :class:`~radcycle.domain.ImageReference` it
was measured on and the :class:`~radcycle.domain.AlgorithmRecord` that measured
it). Imaging builds it from a mask; tracking gives it its identity
(:func:`dataclasses.replace`, every other field kept); the guideline engines read
it; :meth:`LesionMeasurement.quantities` gives its TID 1500 items as
:class:`~radcycle.domain.Measurement` records for facts, SR and FHIR. Values
are validated once, when the record is built.

A lesion that was looked for but could not be measured still has a record: its
:class:`LesionStatus` says whether it was too small to measure, gone, present but
unmeasured, or not evaluated at all, which is what RECIST 1.1 needs to tell
"0 mm" from "unknown".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from radcycle.domain.identity import validate_uid
from radcycle.domain.measurement import MEASURED, Measurement, MeasurementName
from radcycle.domain.provenance import AlgorithmRecord, ImageReference
from radcycle.errors import InputError

__all__ = [
    "LesionMeasurement",
    "LesionStatus",
    "NoduleType",
    "Point",
    "lung_rads_mean_diameter",
    "parse_enum",
]

Point = tuple[float, float, float]

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


def lung_rads_mean_diameter(long_axis_mm: float, short_axis_mm: float) -> float:
    """Lung-RADS v2022 size: mean of long and short axis, rounded half up to 0.1 mm.

    Example:
        >>> lung_rads_mean_diameter(7.0, 6.1)
        6.6
        >>> lung_rads_mean_diameter(6.05, 6.0)
        6.0
    """
    mean = (Decimal(repr(long_axis_mm)) + Decimal(repr(short_axis_mm))) / 2
    return float(mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


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
        lesion_id: TrackingIdentifier, the same for the lesion at every time point;
            empty until the lesion is tracked.
        tracking_uid: TrackingUniqueIdentifier (a DICOM UID), if assigned.
        time_point: the study date (ISO) it was seen on, once tracked.
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
        equivocal: a new lesion that is not unequivocally new (RECIST 1.1 section
            4.3.5): not counted until a later exam confirms it.
        split_from: for a fragment of a lesion that split, the ``lesion_id`` of the
            lesion it split from (RECIST 1.1: the fragments' diameters are added).
        merged_into: for a lesion that coalesced with another, the ``lesion_id`` of
            the lesion it merged into (RECIST 1.1: it counts 0 mm, the coalesced
            lesion carries the whole diameter).
        fragments: TrackingIdentifiers of split fragments whose long axes were
            added to this one (RECIST 1.1 Appendix I).
        centre_mm: centre of the mask (LPS mm).
        max_3d_diameter_mm: the largest distance across the lesion in 3D.
        axial_slice_mm: LPS centre of the slice holding the long axis.
        long_axis_endpoints_mm: the two LPS ends of the long axis.
        solid_long_axis_mm: long axis of a part-solid nodule's solid component.
        intensity: named intensity figures (``mean_hu``, ``suv_max`` ...).
        voxel_count: voxels in the mask.
        image: the images it was measured on (structured provenance).
        algorithm: the algorithm that outlined and measured it.
        note: why it has no value (the rule that decided it disappeared or
            could not be evaluated), in words for the report.
        key: the caller's handle for its mask, returned untouched.

    Example:
        >>> m = LesionMeasurement(lesion_id="L1", organ="lung", long_axis_mm=12.0)
        >>> m.status.value
        'measured'
    """

    lesion_id: str = ""
    tracking_uid: str = ""
    time_point: str = ""
    organ: str = ""
    is_lymph_node: bool = False
    long_axis_mm: float | None = None
    short_axis_mm: float | None = None
    volume_mm3: float | None = None
    status: LesionStatus | None = None
    nodule_type: NoduleType | None = None
    solid_component_mm: float | None = None
    reproducible: bool = True
    equivocal: bool = False
    split_from: str = ""
    merged_into: str = ""
    fragments: tuple[str, ...] = ()
    centre_mm: Point | None = None
    max_3d_diameter_mm: float | None = None
    axial_slice_mm: Point | None = None
    long_axis_endpoints_mm: tuple[Point, Point] | None = None
    solid_long_axis_mm: float | None = None
    intensity: Mapping[str, float] = field(default_factory=dict, hash=False)
    voxel_count: int = 0
    image: ImageReference | None = None
    algorithm: AlgorithmRecord | None = None
    note: str = ""
    key: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.lesion_id, str) or (self.lesion_id and not self.lesion_id.strip()):
            raise InputError("lesion_id (TrackingIdentifier) must be text", value=self.lesion_id)
        if not self.lesion_id and (self.tracking_uid or self.time_point):
            raise InputError("a tracked lesion needs its lesion_id (TrackingIdentifier)")
        if self.centre_mm is not None:
            centre = tuple(float(v) for v in self.centre_mm)
            if len(centre) != 3 or not all(math.isfinite(v) for v in centre):
                raise InputError("a lesion centre must be 3 finite numbers", value=self.centre_mm)
            object.__setattr__(self, "centre_mm", centre)
        object.__setattr__(self, "intensity", MappingProxyType(dict(self.intensity)))
        object.__setattr__(self, "fragments", tuple(self.fragments))
        if self.tracking_uid:
            validate_uid(self.tracking_uid, "TrackingUniqueIdentifier")
        for name in (
            "long_axis_mm",
            "short_axis_mm",
            "solid_component_mm",
            "solid_long_axis_mm",
            "max_3d_diameter_mm",
        ):
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
            if not isinstance(value, str) or (value and value == self.lesion_id):
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

    @property
    def name(self) -> str:
        """The TrackingIdentifier, or ``"an untracked lesion"`` before tracking."""
        return self.lesion_id or "an untracked lesion"

    @property
    def centre(self) -> Point:
        """The centre (LPS mm); an error for a record that has none."""
        if self.centre_mm is None:
            raise InputError(f"{self.name} has no centre")
        return self.centre_mm

    @property
    def rounded_mean_diameter_mm(self) -> float:
        """Lung-RADS v2022 size, half up to 0.1 mm (0 without both axes)."""
        if self.long_axis_mm is None or self.short_axis_mm is None:
            return 0.0
        return lung_rads_mean_diameter(self.long_axis_mm, self.short_axis_mm)

    @property
    def mean_hu(self) -> float | None:
        """Mean density inside the lesion (CT), if measured."""
        return self.intensity.get("mean_hu")

    @property
    def radius_mm(self) -> float:
        """Half the largest known diameter (0 when unmeasured).

        Example:
            >>> LesionMeasurement(long_axis_mm=12.0, short_axis_mm=8.0).radius_mm
            6.0
        """
        sizes = [v for v in (self.long_axis_mm, self.short_axis_mm) if v is not None]
        if sizes:
            return max(sizes) / 2.0
        if self.volume_mm3:
            return float((3.0 * self.volume_mm3 / (4.0 * math.pi)) ** (1.0 / 3.0))
        return 0.0

    def quantities(self, fallback: AlgorithmRecord) -> tuple[Measurement, ...]:
        """This record's TID 1500 measurement items, with its provenance unchanged.

        A lesion without a value (gone, not evaluated) gives valueless long-axis
        and short-axis items whose status says why. Needs the tracking identity.

        Args:
            fallback: the algorithm cited where the record names none (e.g.
                tracking, for a lesion found gone).

        Example:
            >>> m = LesionMeasurement(lesion_id="L1", tracking_uid="2.25.1",
            ...     time_point="2025-01-01", long_axis_mm=20.0, short_axis_mm=15.0)
            >>> [(q.name.value, q.value) for q in m.quantities(AlgorithmRecord("x", "1"))]
            [('long_axis', 20.0), ('short_axis', 15.0)]
        """
        if not self.lesion_id or not self.tracking_uid or not self.time_point:
            raise InputError("an untracked lesion has no TID 1500 items", value=self.name)
        algorithm = self.algorithm or fallback
        status = self.status or LesionStatus.NOT_EVALUATED
        if status is not LesionStatus.MEASURED:
            words = "not evaluated" if status is LesionStatus.PRESENT else status.value
            return tuple(
                self._item(name, None, algorithm, words)
                for name in (MeasurementName.LONG_AXIS, MeasurementName.SHORT_AXIS)
            )
        values = (
            (MeasurementName.LONG_AXIS, self.long_axis_mm),
            (MeasurementName.SHORT_AXIS, self.short_axis_mm),
            (MeasurementName.VOLUME, self.volume_mm3),
            (MeasurementName.SOLID_COMPONENT, self.solid_component_mm),
            (MeasurementName.MEAN_ATTENUATION, self.mean_hu),
        )
        return tuple(
            self._item(name, value, algorithm, MEASURED)
            for name, value in values
            if value is not None
        )

    def _item(
        self, name: MeasurementName, value: float | None, algorithm: AlgorithmRecord, status: str
    ) -> Measurement:
        return Measurement(
            name=name,
            value=value,
            unit=name.unit,
            tracking_identifier=self.lesion_id,
            tracking_uid=self.tracking_uid,
            time_point=self.time_point,
            image=self.image,
            algorithm=algorithm,
            status=status,
        )

    def provenance_dict(self) -> dict[str, Any]:
        """Where it was measured and how, JSON-ready (no prose to parse back)."""
        return {
            "image": None if self.image is None else self.image.to_dict(),
            "algorithm": None if self.algorithm is None else self.algorithm.to_dict(),
            "fragments": list(self.fragments),
            "note": self.note,
        }
