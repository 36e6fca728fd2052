"""Texture matrices: counts that must add up, checked against direct loops."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from radcycle.imaging.radiomics.texture.common import GreyImage, directions
from radcycle.imaging.radiomics.texture.glrlm import _runs
from radcycle.imaging.radiomics.texture.glszm import label_zones


def _loop_runs(grey: np.ndarray, d: tuple[int, int, int]) -> list[tuple[int, int]]:
    """(level, length) of every run, walking voxel by voxel."""
    out = []
    shape = grey.shape
    for p in np.argwhere(grey > 0):
        prev = p - d
        inside = all(0 <= prev[a] < shape[a] for a in range(3))
        if inside and grey[tuple(prev)] == grey[tuple(p)]:
            continue
        length, q = 0, p.copy()
        while all(0 <= q[a] < shape[a] for a in range(3)) and grey[tuple(q)] == grey[tuple(p)]:
            length += 1
            q = q + d
        out.append((int(grey[tuple(p)]), length))
    return sorted(out)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), levels=st.integers(1, 4))
def test_runs_match_voxel_walk(seed: int, levels: int) -> None:
    rng = np.random.default_rng(seed)
    grey = rng.integers(0, levels + 1, (3, 5, 6))
    g = GreyImage(grey, levels)
    for d in directions("3D"):
        level, length, _ = _runs(g, d)
        fast = sorted(zip(level.tolist(), length.tolist(), strict=True))
        assert fast == _loop_runs(grey, np.asarray(d))
        assert length.sum() == (grey > 0).sum()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_zones_partition_the_roi(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grey = rng.integers(0, 4, (4, 6, 6))
    g = GreyImage(grey, 3)
    for dim in ("2D", "3D"):
        z = label_zones(g, dim)
        assert z.size.sum() == (grey > 0).sum()
        assert set(z.level.tolist()) <= {1, 2, 3}
    # 2D zones never span two slices: at least as many zones as in 3D.
    assert len(label_zones(g, "2D").size) >= len(label_zones(g, "3D").size)
