"""Plain data of radcycle: volumes with geometry, identities, findings. No I/O."""

from radcycle.domain.findings import LesionMeasurement, LesionStatus, NoduleType
from radcycle.domain.identity import Patient, Series, Study, validate_uid
from radcycle.domain.volume import Geometry, Volume

__all__ = [
    "Geometry",
    "LesionMeasurement",
    "LesionStatus",
    "NoduleType",
    "Patient",
    "Series",
    "Study",
    "Volume",
    "validate_uid",
]
