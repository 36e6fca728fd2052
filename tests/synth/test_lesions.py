"""Lesion rendering: partial-volume fractions add up to the analytic ellipsoid volume."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radcycle.synth.anatomy import Anatomy, Region
from radcycle.synth.lesions import (
    KINDS,
    PERIFISSURAL_MM,
    LesionKind,
    LesionState,
    plan_lesions,
    render_lesion,
)

UNIT = LesionKind("unit", "lung", 1.0)


@settings(max_examples=60, deadline=None)
@given(
    axes=st.tuples(*[st.floats(4.0, 14.0)] * 3),
    spacing=st.tuples(st.floats(0.5, 1.2), st.floats(0.8, 2.5)),
    angle=st.floats(0.0, np.pi),
    offset=st.tuples(*[st.floats(-0.5, 0.5)] * 3),
    lobulated=st.booleans(),
)
def test_fractions_sum_to_the_ellipsoid_volume(
    axes: tuple[float, float, float],
    spacing: tuple[float, float],
    angle: float,
    offset: tuple[float, float, float],
    lobulated: bool,
) -> None:
    pixel, slice_mm = spacing
    affine = np.diag([pixel, pixel, slice_mm, 1.0])
    affine[:3, 3] = (-40.0, -40.0, -40.0)
    shape = (int(80 / slice_mm) + 1, int(80 / pixel) + 1, int(80 / pixel) + 1)
    volume = np.zeros(shape, dtype=np.float32)
    centre = np.asarray(offset) * np.array([pixel, pixel, slice_mm])
    kind = KINDS["solid"] if lobulated else UNIT
    rendered = render_lesion(volume, affine, centre, angle, LesionState(axes), kind, (0.3, 1.9))
    truth = 4.0 / 3.0 * np.pi * np.prod(axes)
    # The linear partial-volume ramp is exact for flat surfaces; on a curved one it
    # overestimates by about (voxel size / radius)^2 / 2 (largest on small lesions).
    curvature = (max(spacing) / min(axes)) ** 2
    assert abs(rendered - truth) / truth < 0.01 + 0.8 * curvature
    scale = kind.hu  # the background is 0, so each voxel holds fraction x HU
    assert abs(volume.sum() / scale * pixel * pixel * slice_mm - rendered) < 1e-3 * truth


def test_part_solid_core_is_solid_and_halo_is_ground_glass() -> None:
    affine = np.diag([0.5, 0.5, 0.5, 1.0])
    affine[:3, 3] = (-15.0, -15.0, -15.0)
    volume = np.full((61, 61, 61), -850.0, dtype=np.float32)
    state = LesionState((10.0, 8.0, 8.0), core_fraction=0.5)
    render_lesion(volume, affine, np.zeros(3), 0.0, state, KINDS["part-solid"], (0.0, 0.0))
    centre = volume[30, 30, 30]
    halo = volume[30, 30, 30 + 15]  # 7.5 mm along x: outside the 5 mm core, inside 10 mm
    outside = volume[30, 30, 30 + 25]
    assert abs(centre - KINDS["part-solid"].core_hu) < 1.0
    assert abs(halo - KINDS["part-solid"].hu) < 1.0
    assert outside == -850.0


@pytest.mark.parametrize("seed", range(8))
def test_every_seed_tells_the_whole_story(seed: int) -> None:
    """Growth, shrinkage, a new and a vanished lesion, every type, for any seed."""
    rng = np.random.default_rng(seed)
    anat = Anatomy(scale_lr=rng.uniform(0.93, 1.05), fat_mm=rng.uniform(8.0, 20.0))
    specs = plan_lesions(anat, np.random.default_rng(seed), 3, (-220.0, 76.0))
    kinds = {s.kind for s in specs}
    assert {"solid", "part-solid", "ground-glass", "lymph-node"} <= kinds
    statuses = {s.status(t) for s in specs for t in range(3)}
    assert {"present", "new", "vanished"} <= statuses
    change = [s.states[1].semi_axes[0] - s.states[0].semi_axes[0] for s in specs]
    assert min(change) < 0 < max(change)
    assert sum(s.juxtapleural for s in specs) == 1
    for s in specs:
        present = [state for state in s.states if state.present]
        assert all(1.5 <= max(state.semi_axes) <= 20.0 for state in present)
        if s.kind in ("solid", "part-solid", "ground-glass"):
            region = Region.RIGHT_LUNG if s.side == "right" else Region.LEFT_LUNG
            assert anat.region_at(np.asarray([s.centre]))[0] == region


@pytest.mark.parametrize("seed", range(8))
def test_perifissural_truth_matches_the_fissure_geometry(seed: int) -> None:
    """A lesion crossed by a fissure is perifissural; one far from every fissure is not."""
    rng = np.random.default_rng(seed)
    anat = Anatomy(scale_lr=rng.uniform(0.93, 1.05), fat_mm=rng.uniform(8.0, 20.0))
    specs = plan_lesions(anat, np.random.default_rng(seed), 3, (-220.0, 76.0))
    for s in specs:
        assert len(s.perifissural) == len(s.states)
        offsets = anat.fissure_offsets(np.asarray([s.centre]))[0]
        nearest = float(np.nanmin(np.abs(offsets)))
        for state, flagged in zip(s.states, s.perifissural, strict=True):
            if s.kind not in ("solid", "part-solid", "ground-glass") or not state.present:
                assert not flagged
            elif nearest < min(state.semi_axes):  # the fissure runs through its body
                assert flagged
            elif nearest / 1.02 > max(state.semi_axes) + PERIFISSURAL_MM:  # minor: tilted
                assert not flagged
