"""Brock (PanCan) full model with spiculation: coefficients, centring, monotonicity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radcycle.domain import NoduleType
from radcycle.errors import InputError
from radcycle.guidelines.brock import BrockInputs, brock_assessment, brock_logit, brock_probability


def inputs(**kw: object) -> BrockInputs:
    base: dict[str, object] = {
        "age": 62,
        "female": False,
        "family_history": False,
        "emphysema": False,
        "size_mm": 4.0,
        "nodule_type": NoduleType.SOLID,
        "upper_lobe": False,
        "nodule_count": 4,
        "spiculation": False,
    }
    base.update(kw)
    return BrockInputs(**base)  # type: ignore[arg-type]


def test_reference_patient_is_the_intercept() -> None:
    # At the centring values every term but the intercept vanishes.
    assert brock_logit(inputs()) == pytest.approx(-6.7892, abs=1e-6)


def _uncentred(x: BrockInputs) -> float:
    """The same model as printed uncentred (intercept 0.2761, size term (d/10)^-0.5)."""
    kind = {"solid": 0.0, "part-solid": 0.377, "ground-glass": -0.1276}[x.nodule_type.value]
    return (
        0.2761
        + 0.0287 * x.age
        + 0.6011 * x.female
        + 0.2961 * x.family_history
        + 0.2953 * x.emphysema
        - 5.3854 * (x.size_mm / 10.0) ** -0.5
        + kind
        + 0.6581 * x.upper_lobe
        - 0.0824 * x.nodule_count
        + 0.7729 * x.spiculation
    )


@settings(max_examples=200, deadline=None)
@given(
    age=st.integers(40, 90),
    flags=st.lists(st.booleans(), min_size=5, max_size=5),
    size=st.floats(1.0, 60.0),
    kind=st.sampled_from(list(NoduleType)),
    count=st.integers(1, 30),
)
def test_centred_and_uncentred_forms_agree(
    age: int, flags: list[bool], size: float, kind: NoduleType, count: int
) -> None:
    x = inputs(
        age=age,
        female=flags[0],
        family_history=flags[1],
        emphysema=flags[2],
        upper_lobe=flags[3],
        spiculation=flags[4],
        size_mm=size,
        nodule_type=kind,
        nodule_count=count,
    )
    assert brock_logit(x) == pytest.approx(_uncentred(x), abs=1e-3)


def test_worked_example() -> None:
    # 65-year-old woman, emphysema, 12 mm spiculated solid upper-lobe nodule, 2 nodules.
    x = inputs(
        age=65,
        female=True,
        emphysema=True,
        size_mm=12.0,
        upper_lobe=True,
        nodule_count=2,
        spiculation=True,
    )
    logit = (
        -6.7892
        + 0.0287 * 3
        + 0.6011
        + 0.2953
        - 5.3854 * (1 / math.sqrt(1.2) - 1.58113883)
        + 0.6581
        - 0.0824 * -2
        + 0.7729
    )
    assert brock_probability(x) == pytest.approx(1 / (1 + math.exp(-logit)))
    # By hand: -6.7892 + 0.0861 + 0.6011 + 0.2953 + 3.5989 + 0.6581 + 0.1648 + 0.7729
    # = -0.6120, so p = 1 / (1 + e^0.6120) = 0.3516.
    assert brock_probability(x) == pytest.approx(0.3516, abs=5e-4)
    result = brock_assessment(x)
    assert result.category.endswith("(>= 10 %)")
    assert "model 2b" in result.rule_fired


def test_part_solid_raises_and_non_solid_lowers_risk() -> None:
    solid = brock_probability(inputs(size_mm=10.0))
    assert brock_probability(inputs(size_mm=10.0, nodule_type="part-solid")) > solid
    assert brock_probability(inputs(size_mm=10.0, nodule_type="ground-glass")) < solid


@given(a=st.floats(1.0, 100.0), b=st.floats(1.0, 100.0), count=st.integers(1, 20))
def test_probability_grows_with_size_and_falls_with_count(a: float, b: float, count: int) -> None:
    small, large = sorted((a, b))
    assert brock_probability(inputs(size_mm=small)) <= brock_probability(inputs(size_mm=large))
    assert brock_probability(inputs(nodule_count=count + 1)) < brock_probability(
        inputs(nodule_count=count)
    )


def test_input_checks() -> None:
    with pytest.raises(InputError, match="1-100 mm"):
        inputs(size_mm=0.5)
    with pytest.raises(InputError, match="nodule count"):
        inputs(nodule_count=0)
    with pytest.raises(InputError, match="nodule_type"):
        inputs(nodule_type="calcified")
