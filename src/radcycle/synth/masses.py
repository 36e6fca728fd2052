"""A solid lung mass painted into a CT: for testing what the synthetic patients
lack (their nodules stay under 3 cm at baseline)."""

from __future__ import annotations

import numpy as np

from radcycle.domain import Volume

__all__ = ["add_mass"]

# A solid mass: soft tissue (HU) and its noise SD, as the synthetic nodules.
_MASS_HU = 38.0
_NOISE_HU = 12.0


def add_mass(
    volume: Volume,
    centre_kji: tuple[int, int, int],
    diameter_mm: float,
    rng: np.random.Generator,
) -> tuple[Volume, tuple[float, float, float]]:
    """``volume`` with a solid sphere of ``diameter_mm`` at voxel ``centre_kji``.

    Each voxel takes the share of it inside the sphere over one in-plane voxel
    of edge (partial volume). Returns the new volume and the centre (LPS mm).
    """
    di, dj, dk = (float(s) for s in volume.spacing)
    spacing = (dk, dj, di)
    arr = np.array(volume.array, dtype=np.float32)
    grids = np.ogrid[tuple(slice(0, n) for n in arr.shape)]
    dist = np.sqrt(
        sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre_kji, spacing, strict=True))
    )
    inside = np.clip(0.5 - (dist - diameter_mm / 2.0) / dj, 0.0, 1.0).astype(np.float32)
    noise = rng.normal(_MASS_HU, _NOISE_HU, arr.shape).astype(np.float32)
    arr = arr * (1.0 - inside) + noise * inside
    k, j, i = centre_kji
    centre = volume.index_to_patient([[i, j, k]])[0]
    return volume.with_array(arr), (float(centre[0]), float(centre[1]), float(centre[2]))
