"""Shared provenance, Measurement, Fact and Lesion records: validation and round trips."""

from __future__ import annotations

import json
import math

import pytest

from radcycle.domain import (
    AlgorithmRecord,
    Fact,
    FactKind,
    FactProvenance,
    ImageReference,
    Lesion,
    Measurement,
    MeasurementName,
    RuleRecord,
)
from radcycle.errors import InputError

ALGO = AlgorithmRecord("radcycle.measure", "1", {"method": "region"})
REF = ImageReference("1.2.3", "1.2.3.4", ("1.2.3.4.5",), "1.2.840.10008.5.1.4.1.1.2", "1.2.9", "CT")


def _m(**kw: object) -> Measurement:
    base: dict[str, object] = {
        "name": "long_axis",
        "value": 12.5,
        "unit": "mm",
        "tracking_identifier": "L1",
        "tracking_uid": "2.25.11",
        "time_point": "2024-01-05",
        "image": REF,
        "algorithm": ALGO,
    }
    base.update(kw)
    return Measurement(**base)  # type: ignore[arg-type]


def test_image_reference_refuses_bad_uids() -> None:
    with pytest.raises(InputError, match="SeriesInstanceUID"):
        ImageReference("1.2.3", "1.02.3")
    with pytest.raises(InputError, match="SOPInstanceUID"):
        ImageReference("1.2.3", "1.2.4", ("x",))


def test_image_reference_round_trip_through_json() -> None:
    back = ImageReference.from_dict(json.loads(json.dumps(REF.to_dict())))
    assert back == REF


def test_algorithm_parameters_are_frozen_and_hashable() -> None:
    algo = AlgorithmRecord("a", "1", {"z": "1", "b": "2"})
    assert list(algo.parameters) == ["b", "z"]
    with pytest.raises(TypeError):
        algo.parameters["c"] = "3"  # type: ignore[index]
    assert hash(algo) == hash(AlgorithmRecord("a", "1", {"b": "2", "z": "1"}))
    with pytest.raises(InputError):
        AlgorithmRecord("a", "", {})


def test_rule_record_cites_section() -> None:
    assert RuleRecord("Lung-RADS", "v2022", "Table 1").cite() == "Lung-RADS v2022 section Table 1"
    with pytest.raises(InputError):
        RuleRecord("RECIST", "1.1", " ")


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("long_axis", "mm"),
        ("short_axis", "mm"),
        ("volume", "mm3"),
        ("mean_attenuation", "[hnsf'U]"),
        ("max_suv", "{SUVbw}g/ml"),
        ("solid_component", "mm"),
    ],
)
def test_measurement_names_carry_ucum_units(name: str, unit: str) -> None:
    assert MeasurementName(name).unit == unit


def test_measurement_refuses_nan_wrong_unit_and_missing_value() -> None:
    with pytest.raises(InputError, match="finite"):
        _m(value=math.nan)
    with pytest.raises(InputError, match="measured in 'mm'"):
        _m(unit="cm")
    with pytest.raises(InputError, match="needs a value"):
        _m(value=None)
    with pytest.raises(InputError, match="negative"):
        _m(value=-1.0)
    with pytest.raises(InputError, match="status must be one of"):
        _m(value=None, status="gone")
    with pytest.raises(InputError, match="has no value"):
        _m(status="disappeared")


def test_valueless_measurement_is_allowed_with_a_status() -> None:
    m = _m(value=None, status="not evaluated")
    assert m.value is None


def test_measurement_round_trip_and_negative_attenuation() -> None:
    m = _m(name="mean_attenuation", unit="[hnsf'U]", value=-650.0, segment_number=2)
    assert Measurement.from_dict(json.loads(json.dumps(m.to_dict()))) == m


def test_fact_validates_id_kind_and_value() -> None:
    prov = FactProvenance(images=(REF,), algorithm=ALGO, rule=RuleRecord("RECIST", "1.1", "4.4"))
    fact = Fact("f-L1-t1-long_axis", "measurement", 12.5, "mm", "2.25.11", "t1", prov)
    assert fact.kind is FactKind.MEASUREMENT
    assert Fact.from_dict(json.loads(json.dumps(fact.to_dict()))) == fact
    with pytest.raises(InputError, match="fact id"):
        Fact("bad id", "measurement", 1.0, "mm", None, None, prov)
    with pytest.raises(InputError, match="fact kind"):
        Fact("f1", "opinion", 1.0, None, None, None, prov)
    with pytest.raises(InputError, match="finite"):
        Fact("f1", "measurement", math.inf, "mm", None, None, prov)


def test_lesion_refuses_another_lesions_measurement() -> None:
    lesion = Lesion("L1", "2.25.11", measurements=(_m(), _m(name="volume", unit="mm3", value=900)))
    assert lesion.values_at("2024-01-05")[MeasurementName.VOLUME] == 900.0
    assert lesion.time_points() == ("2024-01-05",)
    with pytest.raises(InputError, match="another lesion"):
        Lesion("L2", "2.25.12", measurements=(_m(),))


def test_acquisition_info_refuses_a_bad_slice_thickness() -> None:
    from radcycle.domain import AcquisitionInfo

    assert AcquisitionInfo(modality="CT", image=REF).image == REF
    with pytest.raises(InputError, match="SliceThickness"):
        AcquisitionInfo(slice_thickness_mm=0.0)
    with pytest.raises(InputError, match="SliceThickness"):
        AcquisitionInfo(slice_thickness_mm=math.nan)
