"""One measurement of one lesion at one time point, as DICOM SR TID 1500 models it.

A :class:`Measurement` is a named quantity (long axis, short axis, volume, ...)
with its UCUM unit, the lesion's TrackingIdentifier and TrackingUniqueIdentifier,
the time point, the images it was measured on and the algorithm that measured it.
Every layer (pipeline, longitudinal, reporting, export) passes it on unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from radcycle.domain.identity import validate_uid
from radcycle.domain.provenance import AlgorithmRecord, ImageReference
from radcycle.errors import InputError

__all__ = ["MEASURED", "Measurement", "MeasurementName"]

#: The status of a measurement that has a value.
MEASURED = "measured"

# Statuses a measurement may carry without a value, in the words of
# domain.findings.LesionStatus (RECIST 1.1 sections 4.3.2 and 4.4.2).
_VALUELESS = ("too small to measure", "disappeared", "present", "not evaluated", "failed")


class MeasurementName(StrEnum):
    """What is measured; :attr:`unit` is its UCUM unit."""

    LONG_AXIS = "long_axis"
    SHORT_AXIS = "short_axis"
    VOLUME = "volume"
    MEAN_ATTENUATION = "mean_attenuation"
    MAX_SUV = "max_suv"
    SOLID_COMPONENT = "solid_component"

    @property
    def unit(self) -> str:
        """UCUM unit of this quantity.

        Example:
            >>> MeasurementName.VOLUME.unit
            'mm3'
        """
        return _UNITS[self]


_UNITS = {
    MeasurementName.LONG_AXIS: "mm",
    MeasurementName.SHORT_AXIS: "mm",
    MeasurementName.VOLUME: "mm3",
    MeasurementName.MEAN_ATTENUATION: "[hnsf'U]",
    MeasurementName.MAX_SUV: "{SUVbw}g/ml",
    MeasurementName.SOLID_COMPONENT: "mm",
}


def _parse_name(value: str | MeasurementName) -> MeasurementName:
    try:
        return MeasurementName(value)
    except ValueError as exc:
        options = ", ".join(repr(m.value) for m in MeasurementName)
        raise InputError(f"measurement name must be one of {options}", value=value) from exc


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """One quantity of one lesion at one time point.

    Args:
        name: what is measured.
        value: the number in ``unit``; None only when ``status`` is not ``measured``.
        unit: UCUM unit; must be the unit of ``name``.
        tracking_identifier: the lesion's TrackingIdentifier (e.g. ``"L1"``).
        tracking_uid: the lesion's TrackingUniqueIdentifier (a DICOM UID).
        time_point: the study date (ISO) or a time-point label.
        image: the images it was measured on, if known.
        algorithm: the algorithm that measured it.
        segment_number: the lesion's segment in the time point's SEG, if any.
        status: ``measured``, or why there is no value (``too small to measure``,
            ``disappeared``, ``present``, ``not evaluated``, ``failed``).

    Example:
        >>> m = Measurement(name="long_axis", value=12.5, unit="mm",
        ...     tracking_identifier="L1", tracking_uid="2.25.1", time_point="2024-01-05",
        ...     image=None, algorithm=AlgorithmRecord("radcycle.measure", "1"))
        >>> (m.name.value, m.value, m.unit)
        ('long_axis', 12.5, 'mm')
    """

    name: MeasurementName
    value: float | None
    unit: str
    tracking_identifier: str
    tracking_uid: str
    time_point: str
    image: ImageReference | None
    algorithm: AlgorithmRecord
    segment_number: int | None = None
    status: str = MEASURED

    def __post_init__(self) -> None:
        name = _parse_name(self.name)
        object.__setattr__(self, "name", name)
        if self.unit != name.unit:
            raise InputError(f"{name.value} is measured in {name.unit!r}", value=self.unit)
        if not isinstance(self.tracking_identifier, str) or not self.tracking_identifier.strip():
            raise InputError("TrackingIdentifier must be non-empty text")
        validate_uid(self.tracking_uid, "TrackingUniqueIdentifier")
        if not isinstance(self.time_point, str) or not self.time_point.strip():
            raise InputError(f"{self.tracking_identifier}: time point must be non-empty text")
        self._check_value()
        if self.segment_number is not None and (
            isinstance(self.segment_number, bool)
            or not isinstance(self.segment_number, int)
            or self.segment_number < 1
        ):
            raise InputError("segment number must be a positive integer", value=self.segment_number)

    def _check_value(self) -> None:
        where = f"{self.tracking_identifier} {self.name.value}"
        if self.status == MEASURED:
            value = self.value
            if value is None:
                raise InputError(f"{where}: status 'measured' needs a value")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"{where}: value must be a number", value=value)
            if not math.isfinite(value):
                raise InputError(f"{where}: value must be finite", value=value)
            if self.unit in ("mm", "mm3") and value < 0:
                raise InputError(f"{where}: a size cannot be negative", value=value)
            object.__setattr__(self, "value", float(value))
        elif self.status in _VALUELESS:
            if self.value is not None:
                raise InputError(f"{where}: status {self.status!r} has no value", value=self.value)
        else:
            options = ", ".join(repr(s) for s in (MEASURED, *_VALUELESS))
            raise InputError(f"{where}: status must be one of {options}", value=self.status)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "name": self.name.value,
            "value": self.value,
            "unit": self.unit,
            "tracking_identifier": self.tracking_identifier,
            "tracking_uid": self.tracking_uid,
            "time_point": self.time_point,
            "image": None if self.image is None else self.image.to_dict(),
            "algorithm": self.algorithm.to_dict(),
            "segment_number": self.segment_number,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """Rebuild from :meth:`to_dict` output.

        Example:
            >>> m = Measurement(name="volume", value=900.0, unit="mm3",
            ...     tracking_identifier="L1", tracking_uid="2.25.1", time_point="t1",
            ...     image=None, algorithm=AlgorithmRecord("radcycle.measure", "1"))
            >>> Measurement.from_dict(m.to_dict()) == m
            True
        """
        try:
            image = data.get("image")
            return cls(
                name=data["name"],
                value=data.get("value"),
                unit=data["unit"],
                tracking_identifier=data["tracking_identifier"],
                tracking_uid=data["tracking_uid"],
                time_point=data["time_point"],
                image=None if image is None else ImageReference.from_dict(image),
                algorithm=AlgorithmRecord.from_dict(data["algorithm"]),
                segment_number=data.get("segment_number"),
                status=data.get("status", MEASURED),
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"measurement lacks field {exc}", value=dict(data)) from exc
