"""Sizes in report text, converted to millimetres."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radcycle.clinical.nlp.sizes import find_sizes


@pytest.mark.parametrize(
    ("text", "dims", "size"),
    [
        ("4 mm nodule", (4.0,), 4.0),
        ("a 1.2 cm nodule", (12.0,), 12.0),
        ("4 x 5 mm", (4.0, 5.0), 5.0),
        ("1.2 x 0.8 cm", (12.0, 8.0), 12.0),
        ("1 cm x 8 mm", (10.0, 8.0), 10.0),
        ("2.1 x 2 x 1.5 cm mass", (21.0, 20.0, 15.0), 21.0),
        ("3 millimeter", (3.0,), 3.0),
        ("a 1.2cm lesion", (12.0,), 12.0),
    ],
)
def test_sizes(text: str, dims: tuple[float, ...], size: float) -> None:
    (found,) = find_sizes(text)
    assert found.dims_mm == dims
    assert found.size_mm == size


@pytest.mark.parametrize("text", ["T12 fracture", "5th rib", "2 views", "1. No effusion"])
def test_numbers_without_unit_are_not_sizes(text: str) -> None:
    assert find_sizes(text) == []


@given(
    st.lists(st.integers(min_value=1, max_value=999), min_size=1, max_size=3),
    st.sampled_from([("mm", 1.0), ("cm", 10.0)]),
)
def test_size_is_the_largest_dimension_in_mm(tenths: list[int], unit: tuple[str, float]) -> None:
    values = [t / 10 for t in tenths]
    text = " x ".join(f"{v:g}" for v in values) + f" {unit[0]}"
    (found,) = find_sizes(f"nodule {text} in the lung")
    assert found.dims_mm == pytest.approx(tuple(v * unit[1] for v in values))
    assert found.size_mm == pytest.approx(max(values) * unit[1])
