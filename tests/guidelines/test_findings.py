"""LesionMeasurement validation (radcycle.domain.findings)."""

from __future__ import annotations

import math

import pytest

from radcycle.domain import LesionMeasurement, LesionStatus, NoduleType
from radcycle.errors import InputError


def test_status_is_inferred() -> None:
    assert LesionMeasurement(lesion_id="a", long_axis_mm=5.0).status is LesionStatus.MEASURED
    assert LesionMeasurement(lesion_id="a").status is LesionStatus.NOT_EVALUATED
    gone = LesionMeasurement(lesion_id="a", status="disappeared")  # type: ignore[arg-type]
    assert gone.status is LesionStatus.DISAPPEARED


def test_strings_become_enums() -> None:
    m = LesionMeasurement(
        lesion_id="a", long_axis_mm=5.0, nodule_type="part-solid", solid_component_mm=2.0
    )  # type: ignore[arg-type]
    assert m.nodule_type is NoduleType.PART_SOLID
    assert m.mean_diameter_mm is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lesion_id": "  "}, "lesion_id"),
        ({"lesion_id": "", "tracking_uid": "1.2.3"}, "TrackingIdentifier"),
        ({"lesion_id": "a", "long_axis_mm": -1.0}, ">= 0"),
        ({"lesion_id": "a", "long_axis_mm": math.nan}, "finite"),
        ({"lesion_id": "a", "long_axis_mm": 5.0, "short_axis_mm": 6.0}, "short axis longer"),
        ({"lesion_id": "a", "long_axis_mm": 5.0, "solid_component_mm": 6.0}, "solid component"),
        (
            {"lesion_id": "a", "long_axis_mm": 5.0, "nodule_type": "calcified"},
            "nodule_type must be one of",
        ),
        ({"lesion_id": "a", "status": "measured"}, "needs long_axis_mm"),
        (
            {"lesion_id": "a", "is_lymph_node": True, "long_axis_mm": 9.0, "status": "measured"},
            "short_axis_mm",
        ),
        ({"lesion_id": "a", "tracking_uid": "1.02.3"}, "UID"),
        ({"lesion_id": "a", "split_from": "a"}, "split_from must name another lesion"),
        ({"lesion_id": "a", "merged_into": "a"}, "merged_into must name another lesion"),
        ({"lesion_id": "a", "split_from": "b", "merged_into": "c"}, "both split"),
    ],
)
def test_invalid_records_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        LesionMeasurement(**kwargs)  # type: ignore[arg-type]


def test_mean_diameter() -> None:
    assert (
        LesionMeasurement(lesion_id="a", long_axis_mm=8.0, short_axis_mm=6.0).mean_diameter_mm
        == 7.0
    )
