"""Plain data of radcycle: volumes with geometry, identities, findings. No I/O."""

from radcycle.domain.facts import Fact, FactKind, FactProvenance, Lesion
from radcycle.domain.findings import LesionMeasurement, LesionStatus, NoduleType
from radcycle.domain.identity import Patient, Series, Study, validate_uid
from radcycle.domain.measurement import Measurement, MeasurementName
from radcycle.domain.provenance import (
    AcquisitionInfo,
    AlgorithmRecord,
    ImageReference,
    RuleRecord,
)
from radcycle.domain.volume import Geometry, Volume

__all__ = [
    "AcquisitionInfo",
    "AlgorithmRecord",
    "Fact",
    "FactKind",
    "FactProvenance",
    "Geometry",
    "ImageReference",
    "Lesion",
    "LesionMeasurement",
    "LesionStatus",
    "Measurement",
    "MeasurementName",
    "NoduleType",
    "Patient",
    "RuleRecord",
    "Series",
    "Study",
    "Volume",
    "validate_uid",
]
