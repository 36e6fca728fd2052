"""TNM 8 lung clinical T category from imaging: every size edge and the descriptors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radcycle.domain import LesionMeasurement
from radcycle.errors import InputError
from radcycle.guidelines.tnm import ORDER, TDescriptor, t_category, t_from_size


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1.0, "T1a"),
        (10.0, "T1a"),
        (10.1, "T1b"),
        (20.0, "T1b"),
        (20.1, "T1c"),
        (30.0, "T1c"),
        (30.1, "T2a"),
        (40.0, "T2a"),
        (40.1, "T2b"),
        (50.0, "T2b"),
        (50.1, "T3"),
        (70.0, "T3"),
        (70.1, "T4"),
    ],
)
def test_size_edges(size: float, expected: str) -> None:
    assert t_from_size(size) == expected


def test_result_says_clinical_imaging_only() -> None:
    r = t_category(LesionMeasurement(lesion_id="T", long_axis_mm=25.0))
    assert r.category == "cT1c"
    assert "cTNM, imaging only" in r.rule_fired


@pytest.mark.parametrize(
    ("size", "descriptor", "expected"),
    [
        (15.0, TDescriptor.VISCERAL_PLEURA, "cT2a"),
        (45.0, TDescriptor.VISCERAL_PLEURA, "cT2b"),
        (15.0, TDescriptor.SEPARATE_NODULE_SAME_LOBE, "cT3"),
        (15.0, TDescriptor.SEPARATE_NODULE_OTHER_IPSILATERAL_LOBE, "cT4"),
        (60.0, TDescriptor.CHEST_WALL, "cT3"),
        (15.0, TDescriptor.MEDIASTINAL_INVASION, "cT4"),
    ],
)
def test_descriptors_raise_t(size: float, descriptor: TDescriptor, expected: str) -> None:
    assert (
        t_category(LesionMeasurement(lesion_id="T", long_axis_mm=size), [descriptor]).category
        == expected
    )


def test_subsolid_codes_tis_t1mi_or_t_by_solid_part() -> None:
    # IASLC (Travis et al. 2016): these are coded, not only mentioned.
    m = LesionMeasurement(
        lesion_id="T", long_axis_mm=28.0, nodule_type="part-solid", solid_component_mm=4.0
    )
    assert t_category(m).category == "cT1mi"
    wide = LesionMeasurement(
        lesion_id="T", long_axis_mm=31.0, nodule_type="part-solid", solid_component_mm=4.0
    )
    assert t_category(wide).category == "cT1a"
    invasive = LesionMeasurement(
        lesion_id="T", long_axis_mm=28.0, nodule_type="part-solid", solid_component_mm=12.0
    )
    assert t_category(invasive).category == "cT1b"
    ggn = t_category(
        LesionMeasurement(lesion_id="G", long_axis_mm=18.0, nodule_type="ground-glass")
    )
    assert ggn.category == "cTis"


def test_bad_inputs() -> None:
    with pytest.raises(InputError):
        t_from_size(0.0)
    with pytest.raises(InputError, match="T descriptor"):
        t_category(LesionMeasurement(lesion_id="T", long_axis_mm=5.0), ["bone"])


@given(a=st.floats(0.1, 200.0), b=st.floats(0.1, 200.0))
def test_t_is_monotone_in_size(a: float, b: float) -> None:
    small, large = sorted((a, b))
    assert ORDER.index(t_from_size(small)) <= ORDER.index(t_from_size(large))
