"""Measurement: RECIST axes, 3D diameter, volume and densities from masks."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from radcycle.domain import Geometry, Volume
from radcycle.errors import AnalysisError, GeometryError
from radcycle.imaging.measurement import (
    axial_axes,
    lung_rads_mean_diameter,
    measure_lesion,
    measure_mask,
)


def _ellipsoid_volume(
    semi: tuple[float, float, float],
    spacing: tuple[float, float, float],
    angle: float,
    rot: np.ndarray,
) -> tuple[Volume, np.ndarray]:
    """Rasterise an ellipsoid (axes a, b in the slice plane rotated by angle, c normal)."""
    a, b, c = semi
    n = [math.ceil(2.4 * max(semi) / s) + 3 for s in spacing]
    n = [x + (1 - x % 2) for x in n]  # odd, so the centre is a voxel centre
    origin = np.array([5.0, -20.0, 30.0])
    geo = Geometry(origin=origin, spacing=spacing, direction=rot)
    centre_ijk = np.array([(x - 1) / 2 for x in n])
    centre = geo.index_to_patient([centre_ijk])[0]
    kk, jj, ii = np.meshgrid(*(np.arange(x) for x in n[::-1]), indexing="ij")
    ijk = np.stack([ii.ravel(), jj.ravel(), kk.ravel()], axis=1)
    pts = geo.index_to_patient(ijk) - centre
    # the ellipsoid's axes in LPS: the grid's i and j axes turned by `angle`, and k
    ca, sa = math.cos(angle), math.sin(angle)
    u = rot[:, 0] * ca + rot[:, 1] * sa
    v = -rot[:, 0] * sa + rot[:, 1] * ca
    w = rot[:, 2]
    inside = (pts @ u / a) ** 2 + (pts @ v / b) ** 2 + (pts @ w / c) ** 2 <= 1.0
    mask = inside.reshape(n[2], n[1], n[0])
    return Volume(np.where(mask, 40.0, -800.0), geo, {"modality": "CT"}), mask


@settings(max_examples=int(os.environ.get("RADCYCLE_HYPOTHESIS_EXAMPLES", "40")), deadline=None)
@given(
    a=st.floats(3.0, 25.0),
    ratio=st.floats(0.3, 1.0),
    c=st.floats(2.0, 20.0),
    spacing=st.tuples(st.floats(0.4, 1.5), st.floats(0.4, 1.5), st.floats(0.6, 3.0)),
    angle=st.floats(0.0, math.pi),
    seed=st.integers(0, 10_000),
)
def test_recist_axes_of_rasterised_ellipsoid_within_a_voxel(
    a: float, ratio: float, c: float, spacing: tuple[float, float, float], angle: float, seed: int
) -> None:
    rot = Rotation.random(random_state=seed).as_matrix()
    b = a * ratio
    # the shape must be resolved: every semi-axis spans at least two voxels
    assume(min(a, b) >= 2 * max(spacing[:2]) and c >= 2 * spacing[2])
    vol, mask = _ellipsoid_volume((a, b, c), spacing, angle, rot)
    m = measure_mask(vol, mask)
    # within one voxel (its largest side) of the analytic diameters
    tol = max(spacing[0], spacing[1]) + 0.01  # results are rounded to 0.01 mm
    assert abs(m.long_axis_mm - 2 * a) <= tol
    # the short axis is a chord perpendicular to a long axis that the raster may tilt
    # slightly, so its bound is the voxel's in-plane diagonal
    assert abs(m.short_axis_mm - 2 * b) <= math.hypot(spacing[0], spacing[1]) + 0.01
    assert abs(m.max_3d_diameter_mm - 2 * max(a, c)) <= max(spacing) + 0.01
    analytic = 4 / 3 * math.pi * a * b * c
    assert m.volume_mm3 == pytest.approx(analytic, rel=0.3)


def test_axial_axes_of_a_cross() -> None:
    m = np.zeros((11, 11), bool)
    m[5, 1:10] = True
    m[4:7, 5] = True
    long_axis, short_axis, _, _ = axial_axes(m, (2.0, 1.0))
    # the outline runs half-way to the outside voxels: 9 pixels of 1 mm, 3 rows of 2 mm
    assert long_axis == pytest.approx(9.0)
    assert short_axis == pytest.approx(6.0, abs=0.1)  # marching squares cuts corners


def test_long_axis_endpoints_are_in_lps() -> None:
    rot = np.eye(3)
    vol, mask = _ellipsoid_volume((10.0, 5.0, 4.0), (1.0, 1.0, 2.0), 0.0, rot)
    m = measure_mask(vol, mask)
    (x0, _, _), (x1, _, _) = m.long_axis_endpoints_mm
    assert abs(abs(x1 - x0) - m.long_axis_mm) < 0.02
    assert m.intensity["mean_hu"] == pytest.approx(40.0)


@pytest.mark.parametrize(
    ("long_axis", "short_axis", "expected"),
    [(7.0, 6.1, 6.6), (6.05, 6.0, 6.0), (6.0, 6.1, 6.1), (5.96, 6.0, 6.0), (10.0, 9.9, 10.0)],
)
def test_lung_rads_mean_diameter(long_axis: float, short_axis: float, expected: float) -> None:
    assert lung_rads_mean_diameter(long_axis, short_axis) == expected


def test_suv_peak_is_the_mean_of_a_1cm3_sphere() -> None:
    arr = np.zeros((21, 21, 21))
    arr[10, 10, 10] = 100.0
    vol = Volume(arr, Geometry((0, 0, 0), (2, 2, 2)), {"modality": "PT"})
    mask = np.zeros(arr.shape, bool)
    mask[8:13, 8:13, 8:13] = True
    m = measure_mask(vol, mask)
    # a 6.2 mm sphere at 2 mm spacing holds the lattice points with |g|^2 <= 9.6
    g = np.arange(-4, 5)
    count = int(
        (
            (g[:, None, None] ** 2 + g[None, :, None] ** 2 + g[None, None, :] ** 2) * 4
            <= (3 * 1000 / (4 * math.pi)) ** (2 / 3)
        ).sum()
    )
    assert m.intensity["suv_max"] == 100.0
    assert m.intensity["suv_peak"] == pytest.approx(100.0 / count, rel=1e-3)


def test_part_solid_nodule_has_a_solid_component() -> None:
    vol, mask = _ellipsoid_volume((8.0, 8.0, 8.0), (0.7, 0.7, 1.0), 0.0, np.eye(3))
    arr = np.where(mask, -600.0, -850.0)
    solid, _ = _ellipsoid_volume((3.0, 3.0, 3.0), (0.7, 0.7, 1.0), 0.0, np.eye(3))
    pad = [(x - y) // 2 for x, y in zip(arr.shape, solid.array.shape, strict=True)]
    sl = tuple(slice(p, p + s) for p, s in zip(pad, solid.array.shape, strict=True))
    arr[sl] = np.where(solid.array > 0, 20.0, arr[sl])
    m = measure_mask(vol.with_array(arr), mask, lung=True)
    assert m.nodule_type == "part-solid"
    assert m.solid_long_axis_mm is not None
    assert abs(m.solid_long_axis_mm - 6.0) <= 0.7
    m_solid = measure_mask(vol.with_array(np.where(mask, 30.0, -850.0)), mask, lung=True)
    assert m_solid.nodule_type == "solid"
    m_ggo = measure_mask(vol.with_array(np.where(mask, -620.0, -850.0)), mask, lung=True)
    assert m_ggo.nodule_type == "ground-glass"


def test_bad_masks_raise_typed_errors() -> None:
    vol = Volume(np.zeros((4, 5, 6)), Geometry((0, 0, 0), (1, 1, 1)))
    with pytest.raises(AnalysisError, match="empty"):
        measure_lesion(vol, vol.with_array(np.zeros((4, 5, 6))))
    far = Volume(np.ones((4, 5, 6)), Geometry((500, 500, 500), (1, 1, 1)))
    with pytest.raises(GeometryError, match="does not overlap"):
        measure_lesion(vol, far)
    other = Volume(np.ones((4, 5, 7)), Geometry((0, 0, 0), (1, 1, 1)))
    with pytest.raises(GeometryError, match="differs"):
        measure_lesion(vol, other)


def test_small_nodule_with_a_solid_peak_is_solid() -> None:
    """Partial volume makes a 5 mm solid nodule mostly hazy; its peak still decides."""
    vol, mask = _ellipsoid_volume((2.5, 2.5, 2.5), (0.7, 0.7, 2.5), 0.0, np.eye(3))
    core, _ = _ellipsoid_volume((1.0, 1.0, 1.0), (0.7, 0.7, 2.5), 0.0, np.eye(3))
    arr = np.where(mask, -600.0, -850.0)
    pad = [(x - y) // 2 for x, y in zip(arr.shape, core.array.shape, strict=True)]
    sl = tuple(slice(p, p + s) for p, s in zip(pad, core.array.shape, strict=True))
    arr[sl] = np.where(core.array > 0, 20.0, arr[sl])
    assert measure_mask(vol.with_array(arr), mask, lung=True).nodule_type == "solid"
    hazy = np.where(mask, -600.0, -850.0)
    assert measure_mask(vol.with_array(hazy), mask, lung=True).nodule_type == "ground-glass"
