from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from radcycle.domain import Geometry, Volume
from radcycle.errors import GeometryError

finite = st.floats(min_value=-500, max_value=500, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0.05, max_value=10.0, allow_nan=False)


def _rotation(angles: np.ndarray) -> np.ndarray:
    a, b, c = angles
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


oblique = arrays(np.float64, 3, elements=st.floats(-np.pi, np.pi, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(
    origin=st.tuples(finite, finite, finite),
    spacing=st.tuples(positive, positive, positive),
    angles=oblique,
    flip=st.sampled_from([1.0, -1.0]),
    ijk=arrays(np.float64, (5, 3), elements=st.floats(-50, 600, allow_nan=False)),
)
def test_index_patient_round_trip_oblique(origin, spacing, angles, flip, ijk):
    direction = _rotation(angles) @ np.diag([1.0, 1.0, flip])
    g = Geometry(origin=origin, spacing=spacing, direction=direction)
    xyz = g.index_to_patient(ijk)
    np.testing.assert_allclose(g.patient_to_index(xyz), ijk, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(spacing=st.tuples(positive, positive, positive), angles=oblique)
def test_unit_index_step_moves_one_spacing_along_axis(spacing, angles):
    direction = _rotation(angles)
    g = Geometry(origin=(0, 0, 0), spacing=spacing, direction=direction)
    for axis in range(3):
        step = np.zeros(3)
        step[axis] = 1.0
        delta = g.index_to_patient(step)[0] - g.index_to_patient(np.zeros(3))[0]
        assert np.linalg.norm(delta) == pytest.approx(spacing[axis], rel=1e-9)
        np.testing.assert_allclose(delta / spacing[axis], direction[:, axis], atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    origin=st.tuples(finite, finite, finite),
    spacing=st.tuples(positive, positive, positive),
    angles=oblique,
)
def test_affine_agrees_with_index_to_patient(origin, spacing, angles):
    g = Geometry(origin=origin, spacing=spacing, direction=_rotation(angles))
    ijk = np.array([[3.0, -2.0, 7.5]])
    homog = g.affine @ np.append(ijk[0], 1.0)
    np.testing.assert_allclose(homog[:3], g.index_to_patient(ijk)[0], atol=1e-9)


def test_known_axial_geometry():
    # Axial CT: rows along +x (L), columns along +y (P), slices toward +z (S).
    g = Geometry(origin=(-250.0, -250.0, -100.0), spacing=(0.7, 0.7, 2.5))
    np.testing.assert_allclose(g.index_to_patient([[10, 20, 4]])[0], [-243.0, -236.0, -90.0])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"origin": (0, 0), "spacing": (1, 1, 1)}, "origin must have 3"),
        ({"origin": (0, 0, 0), "spacing": (1, 0, 1)}, "spacing must be > 0"),
        ({"origin": (0, 0, 0), "spacing": (1, -1, 1)}, "spacing must be > 0"),
        ({"origin": (0, np.nan, 0), "spacing": (1, 1, 1)}, "finite"),
        (
            {
                "origin": (0, 0, 0),
                "spacing": (1, 1, 1),
                "direction": [[1, 0, 0], [1, 1, 0], [0, 0, 1]],
            },
            "orthonormal",
        ),
    ],
)
def test_invalid_geometry_is_refused(kwargs, fragment):
    with pytest.raises(GeometryError, match=fragment):
        Geometry(**kwargs)


def test_volume_validates_its_array():
    g = Geometry((0, 0, 0), (1, 1, 1))
    with pytest.raises(GeometryError, match="3 dimensions"):
        Volume(np.zeros((4, 4)), g)
    with pytest.raises(GeometryError, match="empty"):
        Volume(np.zeros((0, 4, 4)), g)
    v = Volume(np.zeros((2, 3, 4)), g)
    assert v.shape_ijk == (4, 3, 2)
    assert v.contains([[3.4, 2.4, 1.4]])
    assert not v.contains([[3.6, 0, 0]])
    with pytest.raises(GeometryError, match="shape differs"):
        v.with_array(np.zeros((2, 2, 2)))
